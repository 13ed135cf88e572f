// Copyright 2026 The dataloader Authors.
#include "server/pipeline/stream_pipeline.h"

#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/ops/builtin_ops.h"
#include "server/ops/op_registry.h"
#include "server/pipeline/epoch_plan.h"
#include "server/pipeline/synthetic_dataset.h"
#include "tests/server/ops/test_ops.h"

namespace dataloader::server {
namespace {

using ::testing::HasSubstr;

PipelineDefinition SmallDefinition() {
  return PipelineDefinition{
      .name = "small",
      .dataset = std::make_shared<SyntheticImageDataset>(*SyntheticImageDataset::Create(
          {.num_samples = 103, .height = 4, .width = 5, .channels = 3, .num_classes = 7})),
      .stages = {{.op = "random_brightness", .args = {{"max_delta", "50"}}, .concurrency = 2},
                 {.op = "latency", .args = {{"millis", "0.2"}}, .concurrency = 8},
                 {.op = "normalize", .args = {{"mean", "0.5"}, {"std", "0.25"}}, .concurrency = 2}},
      .batch_size = 8,
  };
}

class StreamPipelineTest : public ::testing::Test {
 protected:
  std::vector<CollatedBatch> Stream(
      const PipelineDefinition& definition, const StreamRequest& request,
      absl::Status* end = nullptr, const OpRegistry& registry = dataloader::testing::BuiltinOps()) {
    auto pipeline = BuildStreamPipeline(definition, request, *runtime_, registry);
    EXPECT_TRUE(pipeline.ok()) << pipeline.status();
    std::vector<CollatedBatch> batches;
    if (!pipeline.ok()) return batches;
    while (true) {
      absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(absl::Seconds(30));
      if (!batch.ok()) {
        if (end != nullptr) *end = batch.status();
        EXPECT_TRUE(end != nullptr || absl::IsOutOfRange(batch.status())) << batch.status();
        return batches;
      }
      batches.push_back(*std::move(batch));
    }
  }

  std::unique_ptr<Runtime> runtime_ = *Runtime::Create({.num_threads = 2});
};

bool SameBatches(const std::vector<CollatedBatch>& a, const std::vector<CollatedBatch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].sequence != b[i].sequence || a[i].sample_ids != b[i].sample_ids ||
        a[i].tensors.size() != b[i].tensors.size()) {
      return false;
    }
    for (size_t t = 0; t < a[i].tensors.size(); ++t) {
      if (a[i].tensors[t].data != b[i].tensors[t].data ||
          a[i].tensors[t].shape != b[i].tensors[t].shape) {
        return false;
      }
    }
  }
  return true;
}

TEST_F(StreamPipelineTest, BatchesFollowThePlanWithStackedTensors) {
  PipelineDefinition definition = SmallDefinition();
  definition.stages.clear();
  const StreamRequest request{.shard_index = 1, .shard_count = 2, .epoch = 3, .seed = 11};
  std::vector<CollatedBatch> batches = Stream(definition, request);
  EpochPlan plan = *EpochPlan::Create({.num_samples = 103,
                                       .batch_size = 8,
                                       .shuffle = true,
                                       .seed = 11,
                                       .epoch = 3,
                                       .shard_index = 1,
                                       .shard_count = 2});
  ASSERT_EQ(static_cast<int64_t>(batches.size()), plan.batches());  // 51 samples: 7 batches.
  for (size_t k = 0; k < batches.size(); ++k) {
    const CollatedBatch& batch = batches[k];
    EXPECT_EQ(batch.sequence, static_cast<int64_t>(k));
    EXPECT_EQ(batch.epoch, 3u);
    EXPECT_EQ(batch.sample_ids, plan.BatchSamples(k));
    const int64_t n = static_cast<int64_t>(batch.sample_ids.size());
    ASSERT_EQ(batch.tensors.size(), 2u);
    EXPECT_EQ(batch.tensors[0].name, "image");
    EXPECT_EQ(batch.tensors[0].shape, (std::vector<int64_t>{n, 4, 5, 3}));
    EXPECT_EQ(batch.tensors[0].data.size(), static_cast<size_t>(n * 60));
    EXPECT_EQ(batch.tensors[1].shape, (std::vector<int64_t>{n}));
    for (int64_t i = 0; i < n; ++i) {
      int64_t label = 0;
      std::memcpy(&label, batch.tensors[1].data.data() + 8 * i, 8);
      EXPECT_EQ(label, batch.sample_ids[i] % 7);
    }
  }
  EXPECT_EQ(batches.back().sample_ids.size(), 3u);  // 51 = 6 * 8 + 3.
}

TEST_F(StreamPipelineTest, SameRequestGivesSameBytesWhateverTheConcurrency) {
  const StreamRequest request{.epoch = 1, .seed = 5};
  PipelineDefinition serial = SmallDefinition();
  for (StageDefinition& stage : serial.stages) stage.concurrency = 1;
  serial.load_concurrency = 1;
  PipelineDefinition parallel = SmallDefinition();
  for (StageDefinition& stage : parallel.stages) stage.concurrency = 16;
  parallel.load_concurrency = 8;
  std::vector<CollatedBatch> a = Stream(serial, request);
  std::vector<CollatedBatch> b = Stream(parallel, request);
  std::vector<CollatedBatch> c = Stream(parallel, request);
  EXPECT_EQ(a.size(), 13u);
  EXPECT_TRUE(SameBatches(a, b));
  EXPECT_TRUE(SameBatches(b, c));
  std::vector<CollatedBatch> other_epoch = Stream(parallel, {.epoch = 2, .seed = 5});
  EXPECT_FALSE(SameBatches(a, other_epoch));
}

TEST_F(StreamPipelineTest, StartingMidEpochEqualsTheRestOfTheUninterruptedStream) {
  const PipelineDefinition definition = SmallDefinition();
  std::vector<CollatedBatch> full = Stream(definition, {.epoch = 4, .seed = 9});
  auto pipeline = BuildStreamPipeline(definition, {.epoch = 4, .seed = 9, .start_sequence = 10},
                                      *runtime_, dataloader::testing::BuiltinOps());
  ASSERT_TRUE(pipeline.ok());
  std::vector<CollatedBatch> rest;
  for (CollatedBatch& batch : **pipeline) rest.push_back(std::move(batch));
  EXPECT_TRUE(SameBatches(rest, std::vector<CollatedBatch>(full.begin() + 10, full.end())));
  // Nothing before batch 10 was loaded: 3 batches of 8, 8 and 7 samples.
  EXPECT_EQ((*pipeline)->Stats().stages[1].tasks_started, 8 + 8 + 7);
}

TEST_F(StreamPipelineTest, MaxBatchesStopsEarly) {
  std::vector<CollatedBatch> some =
      Stream(SmallDefinition(), {.start_sequence = 2, .max_batches = 3});
  ASSERT_EQ(some.size(), 3u);
  EXPECT_EQ(some[0].sequence, 2);
  EXPECT_EQ(some[2].sequence, 4);
}

TEST_F(StreamPipelineTest, ShardsCoverEverySampleOnceWithEqualBatchCounts) {
  PipelineDefinition definition = SmallDefinition();
  definition.stages.clear();
  std::multiset<int64_t> served;
  std::set<size_t> counts;
  for (int64_t k = 0; k < 4; ++k) {
    std::vector<CollatedBatch> batches =
        Stream(definition, {.shard_index = k, .shard_count = 4, .seed = 2});
    counts.insert(batches.size());
    for (const CollatedBatch& batch : batches)
      served.insert(batch.sample_ids.begin(), batch.sample_ids.end());
  }
  EXPECT_EQ(counts.size(), 1u);
  EXPECT_EQ(served.size(), 100u);  // 103 samples, remainder 3.
  EXPECT_EQ(std::set<int64_t>(served.begin(), served.end()).size(), 100u);
}

// Fails the samples whose index is a multiple of 5.
class FailSomeOp final : public Op {
 public:
  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    if (sample.index % 5 == 0)
      return absl::DataLossError(absl::StrCat("corrupt sample ", sample.index));
    return sample;
  }
};

TEST_F(StreamPipelineTest, FailedSamplesLeaveTheirBatchWithoutShiftingOthers) {
  OpRegistry registry;
  ASSERT_TRUE(RegisterGenericOps(registry).ok());
  ASSERT_TRUE(registry
                  .Register({.name = "fail_some",
                             .summary = "fails the samples whose index is a multiple of 5",
                             .factory = [](const OpArgs&) -> absl::StatusOr<std::unique_ptr<Op>> {
                               return std::make_unique<FailSomeOp>();
                             }})
                  .ok());
  PipelineDefinition definition = SmallDefinition();
  definition.shuffle = false;
  definition.stages = {{.op = "fail_some", .concurrency = 4}};
  std::vector<CollatedBatch> batches = Stream(definition, {}, nullptr, registry);
  ASSERT_EQ(batches.size(), 13u);
  EXPECT_EQ(batches[0].sample_ids, (std::vector<int64_t>{1, 2, 3, 4, 6, 7}));
  EXPECT_EQ(batches[1].sample_ids, (std::vector<int64_t>{8, 9, 11, 12, 13, 14}));
  EXPECT_EQ(batches[0].tensors[0].shape[0], 6);

  definition.stages[0].max_failures = 2;
  definition.stages[0].name = "checker";
  absl::Status end;
  Stream(definition, {}, &end, registry);
  EXPECT_TRUE(absl::IsAborted(end)) << end;
  EXPECT_THAT(end.message(), HasSubstr("stage 'checker' exceeded its failure budget"));
}

// Sleeps a pseudo-random 0-400 us per sample (from its seed), on the pool or, async, on the
// event loop; fails the samples whose index is a multiple of 9.
class RandomDelayOp final : public Op {
 public:
  explicit RandomDelayOp(bool async) : async_(async) {}
  bool IsAsync() const override { return async_; }
  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    absl::SleepFor(Delay(sample));
    if (sample.index % 9 == 0) return absl::DataLossError("unlucky sample");
    return sample;
  }
  void Start(Sample sample, Completion<Sample> done, const TaskContext& context) const override {
    const absl::Duration delay = Delay(sample);
    context.loop().RunAfter(delay, [sample = std::move(sample), done = std::move(done)]() mutable {
      if (sample.index % 9 == 0) {
        done(absl::DataLossError("unlucky sample"));
      } else {
        done(std::move(sample));
      }
    });
  }

 private:
  static absl::Duration Delay(const Sample& sample) {
    return absl::Microseconds(static_cast<int64_t>((sample.seed * 0x9E3779B97F4A7C15u) >> 55));
  }
  const bool async_;
};

const OpRegistry& RegistryWithRandomDelays() {
  static const OpRegistry* const registry = [] {
    auto* made = new OpRegistry();
    dataloader::testing::CheckRegistered(RegisterBuiltinOps(*made));
    for (bool async : {false, true}) {
      dataloader::testing::CheckRegistered(made->Register(
          {.name = async ? "random_delay_async" : "random_delay",
           .summary = "waits a time drawn from the sample's seed; fails every 9th sample",
           .factory = [async](const OpArgs&) -> absl::StatusOr<std::unique_ptr<Op>> {
             return std::make_unique<RandomDelayOp>(async);
           }}));
    }
    return made;
  }();
  return *registry;
}

// Regression (issue 10, defect 4): with stages in completion order, the end-of-batch markers
// used to overtake samples: batches over batch_size, samples lost after the last marker. Batches
// are now assembled by position; the bytes are those of a serial run whatever the threads,
// concurrency and order, with random task times and failures.
TEST_F(StreamPipelineTest, CompletionOrderUnderRandomDelaysGivesTheSameBytesAtEveryThreadCount) {
  const OpRegistry& registry = RegistryWithRandomDelays();
  auto definition_with = [&](int concurrency, OutputOrder order) {
    PipelineDefinition definition = SmallDefinition();
    definition.stages = {
        {.op = "random_delay", .concurrency = concurrency, .output_order = order},
        {.op = "random_brightness", .args = {{"max_delta", "50"}}, .concurrency = concurrency},
        {.op = "random_delay_async", .concurrency = concurrency, .output_order = order},
        {.op = "normalize",
         .args = {{"mean", "0.5"}, {"std", "0.25"}, {"layout", "chw"}},
         .concurrency = concurrency}};
    definition.load_concurrency = concurrency;
    return definition;
  };
  const StreamRequest request{.shard_index = 1, .shard_count = 2, .epoch = 1, .seed = 5};
  runtime_ = *Runtime::Create({.num_threads = 1});
  std::vector<CollatedBatch> serial =
      Stream(definition_with(1, OutputOrder::kInput), request, nullptr, registry);
  // 51 samples of shard 1: 6 batches of 8 and one of 3, each the plan's minus the failures.
  const EpochPlan plan = *EpochPlan::Create({.num_samples = 103,
                                             .batch_size = 8,
                                             .shuffle = true,
                                             .seed = 5,
                                             .epoch = 1,
                                             .shard_index = 1,
                                             .shard_count = 2});
  ASSERT_EQ(serial.size(), 7u);
  for (size_t k = 0; k < serial.size(); ++k) {
    std::vector<int64_t> expected;
    for (int64_t id : plan.BatchSamples(static_cast<int64_t>(k))) {
      if (id % 9 != 0) expected.push_back(id);
    }
    EXPECT_EQ(serial[k].sample_ids, expected);
  }
  for (int threads : {1, 2, 3, 4, 8, 16}) {
    runtime_ = *Runtime::Create({.num_threads = threads});
    for (int concurrency : {0, 1, 3, 16}) {
      SCOPED_TRACE(absl::StrCat("threads ", threads, ", concurrency ", concurrency));
      EXPECT_TRUE(SameBatches(serial, Stream(definition_with(concurrency, OutputOrder::kCompletion),
                                             request, nullptr, registry)));
    }
  }
}

// Normalize as the last op runs while collating, written straight into the batch buffer; the
// bytes must be those of normalize run as an ordinary stage (here followed by a no-op, so it
// is not the last op).
TEST_F(StreamPipelineTest, NormalizeFusedIntoCollateIsBitIdenticalToTheStage) {
  for (const char* layout : {"chw", "hwc"}) {
    SCOPED_TRACE(layout);
    PipelineDefinition fused = SmallDefinition();
    fused.dataset = std::make_shared<SyntheticImageDataset>(*SyntheticImageDataset::Create(
        {.num_samples = 40, .height = 13, .width = 17, .channels = 3, .num_classes = 5}));
    fused.stages = {
        {.op = "random_brightness", .args = {{"max_delta", "40"}}},
        {.op = "normalize",
         .args = {
             {"mean", "0.485,0.456,0.406"}, {"std", "0.229,0.224,0.225"}, {"layout", layout}}}};
    PipelineDefinition unfused = fused;
    unfused.stages.push_back({.op = "latency", .args = {{"millis", "0"}}});
    std::vector<CollatedBatch> a = Stream(fused, {.seed = 3});
    std::vector<CollatedBatch> b = Stream(unfused, {.seed = 3});
    ASSERT_EQ(a.size(), 5u);
    EXPECT_TRUE(SameBatches(a, b));
    EXPECT_EQ(a[0].tensors[0].dtype, DType::kFloat32);
    EXPECT_EQ(a[0].tensors[0].shape, std::string(layout) == "chw"
                                         ? std::vector<int64_t>({8, 3, 13, 17})
                                         : std::vector<int64_t>({8, 13, 17, 3}));
    EXPECT_EQ(a[0].tensors[0].data.size(), size_t{8} * 3 * 13 * 17 * 4);
  }
}

TEST_F(StreamPipelineTest, FusedNormalizeStillFailsItsSamplesInItsOwnStage) {
  PipelineDefinition definition = SmallDefinition();
  definition.stages = {{.name = "norm", .op = "normalize", .args = {{"tensor", "label"}}}};
  auto pipeline = BuildStreamPipeline(definition, {}, *runtime_, dataloader::testing::BuiltinOps());
  ASSERT_TRUE(pipeline.ok());
  int batches = 0;
  for (CollatedBatch& batch : **pipeline) {
    EXPECT_TRUE(batch.sample_ids.empty());  // Every sample failed in 'norm'.
    ++batches;
  }
  EXPECT_EQ(batches, 13);
  const PipelineStats stats = (*pipeline)->Stats();
  EXPECT_EQ(stats.stages[2].name, "norm");
  EXPECT_EQ(stats.stages[2].tasks_failed, 103);
}

TEST_F(StreamPipelineTest, BatchBuffersAreReusedFromThePool) {
  PipelineDefinition definition = SmallDefinition();
  definition.dataset = std::make_shared<SyntheticImageDataset>(*SyntheticImageDataset::Create(
      {.num_samples = 200, .height = 64, .width = 64, .channels = 3, .num_classes = 5}));
  definition.stages = {{.op = "normalize", .args = {{"layout", "chw"}}}};  // 393 KiB batches.
  const BatchBufferPool::Stats before = BatchBufferPool::Default().stats();
  auto pipeline = BuildStreamPipeline(definition, {}, *runtime_, dataloader::testing::BuiltinOps());
  ASSERT_TRUE(pipeline.ok());
  int batches = 0;
  for (CollatedBatch& batch : **pipeline) {
    EXPECT_EQ(batch.tensors[0].data.size(), size_t{8} * 3 * 64 * 64 * 4);
    ++batches;  // The batch dies here and its buffer goes back to the pool.
  }
  EXPECT_EQ(batches, 25);
  const BatchBufferPool::Stats after = BatchBufferPool::Default().stats();
  EXPECT_EQ(after.taken - before.taken, 25);
  // Only the batches in flight at once (collate, sink) needed fresh buffers.
  EXPECT_GE(after.reused - before.reused, 25 - 8);
}

TEST_F(StreamPipelineTest, BadRequestsAndDefinitionsNameTheValue) {
  auto error = [&](const PipelineDefinition& definition, const StreamRequest& request) {
    return BuildStreamPipeline(definition, request, *runtime_, dataloader::testing::BuiltinOps())
        .status();
  };
  EXPECT_THAT(error(SmallDefinition(), {.shard_index = 3, .shard_count = 3}).message(),
              HasSubstr("shard_index must be in [0, shard_count = 3), got 3"));
  EXPECT_THAT(error(SmallDefinition(), {.start_sequence = 14}).message(),
              HasSubstr("start batch must be in [0, 13], got 14"));
  PipelineDefinition bad_op = SmallDefinition();
  bad_op.stages[1].args = {{"millis", "soon"}};
  EXPECT_THAT(
      ValidatePipelineDefinition(bad_op, dataloader::testing::BuiltinOps()).message(),
      HasSubstr("pipeline 'small': op 'latency': argument 'millis' must be a finite number"));
  PipelineDefinition bad_size = SmallDefinition();
  bad_size.batch_size = 0;
  EXPECT_THAT(ValidatePipelineDefinition(bad_size, dataloader::testing::BuiltinOps()).message(),
              HasSubstr("pipeline 'small': batch_size must be >= 1, got 0"));
  // Regression (issue 10, defect 9): absurd values are refused up front, naming the limit.
  PipelineDefinition absurd = SmallDefinition();
  absurd.stages[0].concurrency = 2'000'000'000;
  EXPECT_THAT(ValidatePipelineDefinition(absurd, dataloader::testing::BuiltinOps()).message(),
              HasSubstr("pipeline 'small': stage 'random_brightness': concurrency must be 0 "
                        "(automatic) or 1 to 65536, got 2000000000"));
  absurd = SmallDefinition();
  absurd.load_concurrency = 2'000'000'000;
  EXPECT_THAT(ValidatePipelineDefinition(absurd, dataloader::testing::BuiltinOps()).message(),
              HasSubstr("load_concurrency must be 0 (automatic) or 1 to 65536, got 2000000000"));
  absurd = SmallDefinition();
  absurd.sink_buffer = 2'000'000'000;
  EXPECT_THAT(ValidatePipelineDefinition(absurd, dataloader::testing::BuiltinOps()).message(),
              HasSubstr("sink_buffer must be 1 to 1048576, got 2000000000"));
}

}  // namespace
}  // namespace dataloader::server
