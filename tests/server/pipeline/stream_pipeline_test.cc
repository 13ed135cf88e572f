// Copyright 2026 The dataloader Authors.
#include "server/pipeline/stream_pipeline.h"

#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "absl/status/status.h"
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
  // Nothing before batch 10 was loaded: 3 batches of 8, 8 and 7 samples, plus 3 markers.
  EXPECT_EQ((*pipeline)->Stats().stages[1].tasks_started, 8 + 8 + 7 + 3);
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
}

}  // namespace
}  // namespace dataloader::server
