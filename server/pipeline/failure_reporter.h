// Copyright 2026 The dataloader Authors.
//
// FailureReporter: where a stream pipeline reports each sample that fails one of its stages,
// so that the failure is named somewhere (the server logs it and counts it by stage and
// reason: server/service/failure_log.h). The engine only counts failed tasks; this says which
// sample failed where and why.
//
// The stream pipeline's stage wrappers report through StageFailures, one per stage, made in
// pipeline order by StageFailureLabels:
//
//   StageFailureLabels labels(reporter);                 // a shared_ptr; null: no reports
//   StageFailures load = labels.Next("load");            // position 1, after "plan"
//   ... [load](int64_t index) { return load.Result(index, dataset->Load(index, seed)); }
//   StageFailures decode = labels.Next("decode");
//   ... [decode, op](Sample s, const TaskContext& c) { return decode.Run(*op, std::move(s), c); }
//
// Reports come from the thread that ran the failed task (a pool thread; for an asynchronous
// op, whichever thread completes it), after the op returned and outside every pipeline lock.
// A failure of a cancelled pipeline is not reported: it is the stream ending, not the sample.
#ifndef SERVER_PIPELINE_FAILURE_REPORTER_H_
#define SERVER_PIPELINE_FAILURE_REPORTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/stage_function.h"
#include "server/ops/op.h"
#include "server/pipeline/sample.h"

namespace dataloader::server {

struct SampleFailure {
  // The stage, as the pipeline's stats and metrics label it (a repeated name gets
  // "#position": see StageFailureLabels).
  absl::string_view stage;
  int64_t sample_index = 0;  // In the dataset.
  // Why. Op errors name the sample ("file 'a/b.jpg': decode_image: ...").
  const absl::Status& status;
};

// Thread-safe: stages of many streams report at once. SampleFailed must not block (it runs
// on the pipeline's threads) and must not call back into the pipeline.
class FailureReporter {
 public:
  virtual ~FailureReporter() = default;
  virtual void SampleFailed(const SampleFailure& failure) = 0;
};

// One stage's reporting, captured by value in the stage's function. Reports nothing when its
// reporter is null. Thread-safe (immutable).
class StageFailures {
 public:
  StageFailures() = default;
  StageFailures(std::shared_ptr<FailureReporter> reporter, std::string stage)
      : reporter_(std::move(reporter)), stage_(std::move(stage)) {}

  // `result` (of loading or checking sample `index`), after reporting it if it failed.
  absl::StatusOr<Sample> Result(int64_t index, absl::StatusOr<Sample> result) const;
  // op.Run(sample), reporting a failure (an error, or an exception, which is rethrown for the
  // engine to count as it always does).
  absl::StatusOr<Sample> Run(const Op& op, Sample sample, const TaskContext& context) const;
  // op.Start(sample, done), reporting a failure when the op completes with an error.
  void Start(const Op& op, Sample sample, Completion<Sample> done,
             const TaskContext& context) const;

  const std::string& stage() const { return stage_; }

 private:
  void Report(int64_t index, const absl::Status& status) const;

  // Shared: a stage call may outlive whoever made the pipeline (a stuck op that returns
  // after its stream and service are gone).
  std::shared_ptr<FailureReporter> reporter_;
  std::string stage_;
};

// Hands out the StageFailures of a pipeline's stages in pipeline order (the source "plan" is
// position 0), labelling them as ServerMetrics labels stages: a name already used by an
// earlier stage becomes "name#position", so that two unnamed stages of one op stay apart.
// Thread-compatible (used while a pipeline is built).
class StageFailureLabels {
 public:
  explicit StageFailureLabels(std::shared_ptr<FailureReporter> reporter,
                              std::vector<std::string> earlier_stages = {"plan"});
  StageFailures Next(const std::string& stage_name);

 private:
  const std::shared_ptr<FailureReporter> reporter_;
  std::vector<std::string> names_;  // Of the stages so far, in pipeline order.
};

// The labels of stages named `names` (in pipeline order), as above: the first use of a name
// is the name, a later one "name#position".
std::vector<std::string> UniqueStageLabels(const std::vector<std::string>& names);

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_FAILURE_REPORTER_H_
