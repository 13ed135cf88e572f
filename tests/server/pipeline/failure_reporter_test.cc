// Copyright 2026 The dataloader Authors.
//
// Failed samples are reported (named), not only counted: the stream pipeline's stage wrappers
// call a FailureReporter once per failed sample, with the stage and the error.
#include "server/pipeline/failure_reporter.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/ops/builtin_ops.h"
#include "server/ops/op_registry.h"
#include "server/pipeline/stream_pipeline.h"
#include "server/pipeline/synthetic_dataset.h"

namespace dataloader::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

struct Reported {
  std::string stage;
  int64_t index;
  absl::Status status;
  std::thread::id thread;
};

class RecordingReporter final : public FailureReporter {
 public:
  void SampleFailed(const SampleFailure& failure) override {
    MutexLock lock(&mu_);
    reported_.push_back({std::string(failure.stage), failure.sample_index, failure.status,
                         std::this_thread::get_id()});
  }
  std::vector<Reported> reported() const {
    MutexLock lock(&mu_);
    return reported_;
  }

 private:
  mutable Mutex mu_;
  std::vector<Reported> reported_ ABSL_GUARDED_BY(mu_);
};

// Fails samples whose index is a multiple of `every`: with an error, by throwing, or (async)
// through its completion, from another thread; or every sample, once its pipeline is
// cancelled (as a long op that returns early does).
enum class HowToFail { kError, kThrow, kAsync, kWhenCancelled };
class FailingOp final : public Op {
 public:
  FailingOp(int64_t every, HowToFail how) : every_(every), how_(how) {}
  bool IsAsync() const override { return how_ == HowToFail::kAsync; }
  absl::StatusOr<Sample> Run(Sample sample, const TaskContext& context) const override {
    if (how_ == HowToFail::kWhenCancelled) {
      while (!context.IsCancelled()) absl::SleepFor(absl::Milliseconds(1));
      return absl::CancelledError("gave up: the stream is gone");
    }
    if (sample.index % every_ != 0) return sample;
    if (how_ == HowToFail::kThrow) throw std::runtime_error(absl::StrCat("bad ", sample.index));
    return absl::DataLossError(absl::StrCat("sample ", sample.index, " is corrupt"));
  }
  void Start(Sample sample, Completion<Sample> done, const TaskContext& context) const override {
    // Completes on the event loop, as an I/O op would: not on the thread that started it.
    context.loop().Post(
        [sample = std::move(sample), done = std::move(done), every = every_]() mutable {
          if (sample.index % every == 0) {
            done(absl::UnavailableError(absl::StrCat("sample ", sample.index, " unreachable")));
          } else {
            done(std::move(sample));
          }
        });
  }

 private:
  const int64_t every_;
  const HowToFail how_;
};

const OpRegistry& Ops() {
  static const OpRegistry* const registry = [] {
    auto* made = new OpRegistry();
    EXPECT_TRUE(RegisterBuiltinOps(*made).ok());
    for (auto [name, how] :
         {std::pair{"fail_error", HowToFail::kError}, std::pair{"fail_throw", HowToFail::kThrow},
          std::pair{"fail_async", HowToFail::kAsync},
          std::pair{"fail_when_cancelled", HowToFail::kWhenCancelled}}) {
      EXPECT_TRUE(
          made->Register(
                  {.name = name,
                   .summary = "fails every n-th sample",
                   .args = {{.name = "every",
                             .type = ArgType::kInt,
                             .default_value = "5",
                             .min = 1,
                             .help = "every n-th sample fails"}},
                   .factory = [how](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
                     return std::make_unique<FailingOp>(args.Int("every"), how);
                   }})
              .ok());
    }
    return made;
  }();
  return *registry;
}

PipelineDefinition Definition(std::vector<StageDefinition> stages, int64_t samples = 40) {
  return PipelineDefinition{
      .name = "p",
      .dataset = std::make_shared<SyntheticImageDataset>(*SyntheticImageDataset::Create(
          {.num_samples = samples, .height = 2, .width = 2, .channels = 1})),
      .stages = std::move(stages),
      .batch_size = 4,
      .shuffle = false,
  };
}

class FailureReporterTest : public ::testing::Test {
 protected:
  // Streams the whole epoch; returns the samples the batches hold.
  std::vector<int64_t> StreamAll(const PipelineDefinition& definition,
                                 std::shared_ptr<FailureReporter> reporter) {
    auto pipeline = BuildStreamPipeline(definition, {}, *runtime_, Ops(), std::move(reporter));
    EXPECT_TRUE(pipeline.ok()) << pipeline.status();
    std::vector<int64_t> served;
    if (!pipeline.ok()) return served;
    while (true) {
      absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(absl::Seconds(30));
      if (!batch.ok()) {
        EXPECT_TRUE(absl::IsOutOfRange(batch.status())) << batch.status();
        return served;
      }
      served.insert(served.end(), batch->sample_ids.begin(), batch->sample_ids.end());
    }
  }

  std::unique_ptr<Runtime> runtime_ = *Runtime::Create({.num_threads = 2});
};

std::vector<int64_t> Indexes(const std::vector<Reported>& reported) {
  std::vector<int64_t> out;
  for (const Reported& each : reported) out.push_back(each.index);
  return out;
}

TEST_F(FailureReporterTest, EachFailedSampleIsReportedOnceWithItsStageAndError) {
  auto reporter = std::make_shared<RecordingReporter>();
  std::vector<int64_t> served = StreamAll(
      Definition(
          {{.name = "decode", .op = "fail_error", .args = {{"every", "5"}}, .concurrency = 3},
           {.op = "normalize", .args = {{"mean", "0.5"}}}}),
      reporter);
  EXPECT_EQ(served.size(), 32u);
  std::vector<Reported> reported = reporter->reported();
  EXPECT_THAT(Indexes(reported), UnorderedElementsAreArray({0, 5, 10, 15, 20, 25, 30, 35}));
  for (const Reported& each : reported) {
    EXPECT_EQ(each.stage, "decode");
    EXPECT_TRUE(absl::IsDataLoss(each.status)) << each.status;
    EXPECT_THAT(each.status.message(), HasSubstr(absl::StrCat("sample ", each.index)));
    // On a pool thread, not the consumer's.
    EXPECT_NE(each.thread, std::this_thread::get_id());
  }
}

TEST_F(FailureReporterTest, ThrownAndAsynchronousFailuresAndLoadFailuresAreReported) {
  auto reporter = std::make_shared<RecordingReporter>();
  std::vector<int64_t> served =
      StreamAll(Definition({{.op = "fail_throw", .args = {{"every", "7"}}},
                            {.op = "fail_async", .args = {{"every", "10"}}, .concurrency = 4}}),
                reporter);
  EXPECT_EQ(served.size(), 40u - 6u - 3u);  // 0, 7, ..., 35 throw; 10, 20, 30 fail async.
  std::vector<Reported> reported = reporter->reported();
  ASSERT_EQ(reported.size(), 9u);
  for (const Reported& each : reported) {
    if (each.stage == "fail_throw") {
      EXPECT_EQ(each.index % 7, 0);
      EXPECT_THAT(each.status.message(), HasSubstr(absl::StrCat("threw bad ", each.index)));
    } else {
      EXPECT_EQ(each.stage, "fail_async");
      EXPECT_EQ(each.index % 10, 0);
      EXPECT_TRUE(absl::IsUnavailable(each.status)) << each.status;
    }
  }

  // A sample the dataset cannot load: a synthetic dataset of 40 asked for sample 40+ cannot
  // happen through the plan, so load through StageFailures directly.
  auto load = StageFailureLabels(reporter).Next("load");
  absl::StatusOr<Sample> missing = load.Result(99, absl::OutOfRangeError("no sample 99"));
  EXPECT_TRUE(absl::IsOutOfRange(missing.status()));
  EXPECT_EQ(reporter->reported().back().stage, "load");
  EXPECT_EQ(reporter->reported().back().index, 99);
}

TEST_F(FailureReporterTest, RepeatedStageNamesAreLabelledByPositionAsInTheMetrics) {
  auto reporter = std::make_shared<RecordingReporter>();
  StreamAll(Definition({{.op = "fail_error", .args = {{"every", "9"}}},
                        {.op = "fail_error", .args = {{"every", "10"}}}}),
            reporter);
  std::vector<std::string> stages;
  for (const Reported& each : reporter->reported()) {
    stages.push_back(each.stage);
    EXPECT_EQ(each.stage, each.index % 9 == 0 ? "fail_error" : "fail_error#3") << each.index;
  }
  EXPECT_EQ(stages.size(), 5u + 3u);  // 0, 9, 18, 27, 36; then 10, 20, 30 (0 failed already).
  EXPECT_THAT(UniqueStageLabels({"plan", "load", "resize", "resize", "load"}),
              ElementsAre("plan", "load", "resize", "resize#3", "load#4"));
}

TEST_F(FailureReporterTest, WithoutAReporterNothingChanges) {
  std::vector<int64_t> served =
      StreamAll(Definition({{.op = "fail_error", .args = {{"every", "5"}}}}), nullptr);
  EXPECT_EQ(served.size(), 32u);
}

TEST_F(FailureReporterTest, FailuresOfACancelledPipelineAreNotReported) {
  auto reporter = std::make_shared<RecordingReporter>();
  // Every sample fails, but only once the pipeline is cancelled (the stream went away).
  PipelineDefinition definition = Definition({{.op = "fail_when_cancelled", .concurrency = 2}});
  auto pipeline = BuildStreamPipeline(definition, {}, *runtime_, Ops(), reporter);
  ASSERT_TRUE(pipeline.ok());
  absl::StatusOr<CollatedBatch> none = (*pipeline)->GetItem(absl::Milliseconds(50));
  EXPECT_TRUE(absl::IsDeadlineExceeded(none.status())) << none.status();
  (*pipeline)->Stop().IgnoreError();
  pipeline->reset();
  EXPECT_TRUE(reporter->reported().empty()) << reporter->reported().front().status;
}

}  // namespace
}  // namespace dataloader::server
