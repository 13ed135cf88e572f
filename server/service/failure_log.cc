// Copyright 2026 The dataloader Authors.

#include "server/service/failure_log.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/mutex.h"

namespace dataloader::server {
namespace {

// Caps on what a line quotes (before escaping): a path or an error message can be anything.
constexpr size_t kMaxPathChars = 512;
constexpr size_t kMaxErrorChars = 1024;

// `text`, capped, in double quotes, with quotes, backslashes and control bytes escaped (C
// style): one line whatever it holds, and no terminal escapes. Other bytes stay as they are,
// so UTF-8 names read as themselves.
std::string Quoted(absl::string_view text, size_t max) {
  std::string out = "\"";
  for (const char c : text.substr(0, max)) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(byte, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  if (text.size() > max) absl::StrAppend(&out, "...(", text.size(), " bytes)");
  return out;
}

}  // namespace

std::string FailureLine(absl::string_view pipeline, const SampleFailure& failure,
                        absl::string_view file) {
  std::string line = absl::StrCat("sample failed: pipeline=", pipeline, " stage=", failure.stage,
                                  " sample=", failure.sample_index);
  if (!file.empty()) absl::StrAppend(&line, " file=", Quoted(file, kMaxPathChars));
  absl::StrAppend(&line, " code=", absl::StatusCodeToString(failure.status.code()),
                  " error=", Quoted(failure.status.message(), kMaxErrorChars));
  return line;
}

// The rate limit, the metrics and the sink, shared by the log and its reporters.
class FailureLog::Core {
 public:
  Core(FailureLogOptions options, ServerMetrics* metrics)
      : options_(std::move(options)), metrics_(metrics) {
    MutexLock lock(&mu_);
    tokens_ = options_.lines_per_second > 0 ? options_.burst : 0;
    refilled_ = Now();
  }

  // Counts the failure and returns whether to write a line for it; if so, `*left_out` is
  // how many lines were left out since the last one written (and that count starts again).
  bool Count(const std::string& pipeline, absl::string_view stage, absl::StatusCode code,
             int64_t* left_out) {
    const absl::Time now = Now();
    MutexLock lock(&mu_);
    // Under the lock, so that Close() waits for a count in progress. Prometheus' own locks
    // are leaves: a scrape never takes mu_.
    if (closed_) return false;
    if (metrics_ != nullptr) metrics_->SampleFailed(pipeline, std::string(stage), code);
    if (options_.lines_per_second > 0 && now > refilled_) {
      tokens_ = std::min<double>(options_.burst, tokens_ + absl::ToDoubleSeconds(now - refilled_) *
                                                               options_.lines_per_second);
      refilled_ = now;
    }
    if (tokens_ >= 1) {
      tokens_ -= 1;
      *left_out = std::exchange(left_out_, 0);
      return true;
    }
    ++left_out_;
    ++suppressed_total_;
    if (metrics_ != nullptr) metrics_->FailureLinesSuppressed(1);
    return false;
  }

  void Write(const std::string& line) const {
    if (options_.write) {
      options_.write(line);
      return;
    }
    // One write per line, so that lines from several threads do not interleave.
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  void Close() {
    MutexLock lock(&mu_);
    closed_ = true;
  }

  int64_t suppressed() const {
    MutexLock lock(&mu_);
    return suppressed_total_;
  }

 private:
  absl::Time Now() const { return options_.now ? options_.now() : absl::Now(); }

  // Constant after construction.
  const FailureLogOptions options_;
  ServerMetrics* const metrics_;  // May be null. Not touched once closed.

  mutable Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;  // Then nothing is counted or written.
  double tokens_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time refilled_ ABSL_GUARDED_BY(mu_);
  int64_t left_out_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t suppressed_total_ ABSL_GUARDED_BY(mu_) = 0;
};

// Names come from the config (bounded); the stage label from the pipeline (see
// StageFailureLabels), so the metric's label values stay few.
class FailureLog::PipelineReporter final : public FailureReporter {
 public:
  PipelineReporter(std::shared_ptr<Core> core, std::string pipeline,
                   std::shared_ptr<const Dataset> dataset)
      : core_(std::move(core)), pipeline_(std::move(pipeline)), dataset_(std::move(dataset)) {}

  void SampleFailed(const SampleFailure& failure) override {
    int64_t left_out = 0;
    if (!core_->Count(pipeline_, failure.stage, failure.status.code(), &left_out)) return;
    // Only for a line that is written, and only for a dataset of files (it has a root):
    // their Load is cheap (it returns the path), where a synthetic dataset makes the sample.
    std::string file;
    if (dataset_ != nullptr && !dataset_->root().empty()) {
      absl::StatusOr<Sample> sample = dataset_->Load(failure.sample_index, 0);
      if (sample.ok()) file = std::move(sample->path);
    }
    std::string line = FailureLine(pipeline_, failure, file);
    if (left_out > 0) {
      absl::StrAppend(&line, " (", left_out, " failures not logged before this one)");
    }
    core_->Write(line);
  }

 private:
  const std::shared_ptr<Core> core_;
  const std::string pipeline_;
  const std::shared_ptr<const Dataset> dataset_;
};

absl::StatusOr<std::unique_ptr<FailureLog>> FailureLog::Create(FailureLogOptions options,
                                                               ServerMetrics* metrics) {
  if (!std::isfinite(options.lines_per_second) || options.lines_per_second < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("failure log lines_per_second must be a finite number >= 0, got ",
                     options.lines_per_second));
  }
  if (options.lines_per_second > 0 && options.burst < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("failure log burst must be >= 1, got ", options.burst));
  }
  return std::unique_ptr<FailureLog>(
      new FailureLog(std::make_shared<Core>(std::move(options), metrics)));
}

FailureLog::~FailureLog() { core_->Close(); }

std::shared_ptr<FailureReporter> FailureLog::ForPipeline(const PipelineDefinition& definition) {
  return std::make_shared<PipelineReporter>(core_, definition.name, definition.dataset);
}

int64_t FailureLog::lines_suppressed() const { return core_->suppressed(); }

}  // namespace dataloader::server
