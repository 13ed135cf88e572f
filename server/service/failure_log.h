// Copyright 2026 The dataloader Authors.
//
// FailureLog: the server's FailureReporter (server/pipeline/failure_reporter.h). Every sample
// that fails a stage is counted in the metrics by pipeline, stage and reason (its status code:
// dataloader_stage_sample_failures_total{pipeline,stage,code}) and named in one log line on
// stderr:
//
//   sample failed: pipeline=train stage=decode sample=81 file="n01/x.JPEG" code=INVALID_ARGUMENT
//   error="file 'n01/x.JPEG': decode_image: Premature end of JPEG file"
//
// (one line). Lines are rate-limited over the whole server, so that a folder of bad files
// makes a bounded log: a token bucket lets `burst` lines through at once and then
// `lines_per_second`; the failures left out are still counted, in the metrics
// (dataloader_failure_log_lines_suppressed_total) and in the next line written
// ("(12 failures not logged before this one)"). Values from files and errors are quoted,
// with quotes, backslashes and control bytes escaped (C style), and capped, so a line is one
// line of bounded length whatever a file name or an error holds.
//
//   absl::StatusOr<std::unique_ptr<FailureLog>> log = FailureLog::Create({}, &metrics);
//   std::shared_ptr<FailureReporter> reporter = (*log)->ForPipeline(definition);
//   BuildStreamPipeline(definition, request, runtime, ops, reporter);
//
// Thread-safe; reporting never blocks on anything but the line's write.
#ifndef SERVER_SERVICE_FAILURE_LOG_H_
#define SERVER_SERVICE_FAILURE_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/pipeline/failure_reporter.h"
#include "server/pipeline/pipeline_definition.h"
#include "server/service/metrics.h"

namespace dataloader::server {

struct FailureLogOptions {
  // Failure lines per second at most, over the whole server, after the first `burst`.
  // Default 10. 0: no lines (failures are still counted). Must be finite and >= 0.
  double lines_per_second = 10;
  // Lines that may be written at once after a quiet spell (the bucket's size). Default 20,
  // >= 1 unless lines_per_second is 0.
  int burst = 20;
  // Where a line goes (given without its newline). Default (null): stderr, one write each.
  std::function<void(absl::string_view line)> write = nullptr;
  // The clock the rate follows. Default (null): absl::Now. Tests inject their own.
  std::function<absl::Time()> now = nullptr;
};

class FailureLog {
 public:
  // InvalidArgument naming a bad option. `metrics` may be null (nothing counted); otherwise it
  // must outlive the log.
  static absl::StatusOr<std::unique_ptr<FailureLog>> Create(FailureLogOptions options,
                                                            ServerMetrics* metrics);
  // From now on the reporters drop what they are told (a stage call that returns after the
  // server is gone must not touch its metrics).
  ~FailureLog();
  FailureLog(const FailureLog&) = delete;
  FailureLog& operator=(const FailureLog&) = delete;

  // The reporter for the streams of `definition` (its name labels the metrics; its dataset
  // names the failed samples' files). It may outlive the log (then it does nothing).
  std::shared_ptr<FailureReporter> ForPipeline(const PipelineDefinition& definition);

  // Lines left out by the rate limit so far.
  int64_t lines_suppressed() const;

 private:
  class Core;
  class PipelineReporter;

  explicit FailureLog(std::shared_ptr<Core> core) : core_(std::move(core)) {}

  const std::shared_ptr<Core> core_;  // Shared with the reporters.
};

// One failure as FailureLog writes it (without the rate limit's note): exposed for tests.
// `file` is empty when the sample is not a file.
std::string FailureLine(absl::string_view pipeline, const SampleFailure& failure,
                        absl::string_view file);

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_FAILURE_LOG_H_
