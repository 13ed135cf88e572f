// Copyright 2026 The dataloader Authors.

#include "server/pipeline/failure_reporter.h"

#include <exception>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dataloader::server {

void StageFailures::Report(int64_t index, const absl::Status& status) const {
  reporter_->SampleFailed({.stage = stage_, .sample_index = index, .status = status});
}

absl::StatusOr<Sample> StageFailures::Result(int64_t index, absl::StatusOr<Sample> result) const {
  if (reporter_ != nullptr && !result.ok()) Report(index, result.status());
  return result;
}

absl::StatusOr<Sample> StageFailures::Run(const Op& op, Sample sample,
                                          const TaskContext& context) const {
  if (reporter_ == nullptr) return op.Run(std::move(sample), context);
  // The op takes the sample; its index is all a report needs.
  const int64_t index = sample.index;
  absl::StatusOr<Sample> result;
  try {
    result = op.Run(std::move(sample), context);
  } catch (const std::exception& e) {
    if (!context.IsCancelled())
      Report(index, absl::InternalError(absl::StrCat("threw ", e.what())));
    throw;
  } catch (...) {
    if (!context.IsCancelled()) Report(index, absl::UnknownError("threw a non-std exception"));
    throw;
  }
  if (!result.ok() && !context.IsCancelled()) Report(index, result.status());
  return result;
}

void StageFailures::Start(const Op& op, Sample sample, Completion<Sample> done,
                          const TaskContext& context) const {
  if (reporter_ == nullptr) {
    op.Start(std::move(sample), std::move(done), context);
    return;
  }
  const int64_t index = sample.index;
  // The completion may run after the task's context is gone: keep the token, not the context.
  op.Start(std::move(sample),
           Completion<Sample>([reporting = *this, index, token = context.token(),
                               done = std::move(done)](absl::StatusOr<Sample> result) mutable {
             if (!result.ok() && !token.IsCancelled()) reporting.Report(index, result.status());
             done(std::move(result));
           }),
           context);
}

StageFailureLabels::StageFailureLabels(std::shared_ptr<FailureReporter> reporter,
                                       std::vector<std::string> earlier_stages)
    : reporter_(std::move(reporter)), names_(std::move(earlier_stages)) {}

StageFailures StageFailureLabels::Next(const std::string& stage_name) {
  names_.push_back(stage_name);
  return StageFailures(reporter_, UniqueStageLabels(names_).back());
}

std::vector<std::string> UniqueStageLabels(const std::vector<std::string>& names) {
  std::vector<std::string> labels;
  std::set<std::string> seen;
  for (size_t position = 0; position < names.size(); ++position) {
    labels.push_back(seen.insert(names[position]).second
                         ? names[position]
                         : absl::StrCat(names[position], "#", position));
  }
  return labels;
}

}  // namespace dataloader::server
