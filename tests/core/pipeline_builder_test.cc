// Copyright 2026 The dataloader Authors.
//
// Build() validation: every bad value gets InvalidArgument naming the value and its stage.
// (A stage whose input type does not fit does not compile: see stage_type_mismatch.cc.)
#include "core/pipeline_builder.h"

#include <malloc.h>

#include <memory>
#include <ranges>

#include "absl/status/status.h"
#include "core/runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dataloader {
namespace {

using ::testing::HasSubstr;

auto Source() { return PipelineBuilder<>().AddSource(std::views::iota(0, 10)); }
int Identity(int x) { return x; }

void ExpectInvalid(const absl::Status& status, const std::string& message) {
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(message));
}

TEST(PipelineBuilderTest, RejectsNegativeConcurrencyNamingTheStage) {
  auto built = Source().Pipe(Identity, {.concurrency = -1, .name = "decode"}).AddSink(1).Build();
  ExpectInvalid(built.status(),
                "stage 'decode': concurrency must be 0 (automatic) or 1 to 65536, got -1");
}

// Regression (issue 10, defect 9): a typo such as concurrency 2000000000 used to abort with
// bad_alloc (channels allocated their capacity up front); it is an error naming the value.
TEST(PipelineBuilderTest, RejectsAbsurdValuesNamingTheLimit) {
  ExpectInvalid(Source()
                    .Pipe(Identity, {.concurrency = 2'000'000'000, .name = "decode"})
                    .AddSink(1)
                    .Build()
                    .status(),
                "stage 'decode': concurrency must be 0 (automatic) or 1 to 65536, got 2000000000");
  ExpectInvalid(
      Source()
          .Pipe(Identity,
                {.name = "x", .output_order = OutputOrder::kInput, .reorder_window = 2'000'000'000})
          .AddSink(1)
          .Build()
          .status(),
      "stage 'x': reorder_window must be 0 (automatic: the concurrency) or 1 to 65536, "
      "got 2000000000");
  ExpectInvalid(Source().AddSink(2'000'000'000).Build().status(),
                "AddSink(): buffer_size must be 1 to 1048576, got 2000000000");
  ExpectInvalid(Source().Aggregate(2'000'000'000).AddSink(1).Build().status(),
                "Aggregate(): size must be 1 to 1048576, got 2000000000");
  ExpectInvalid(Source().AddSink(1).Build({.num_threads = 2'000'000'000}).status(),
                "num_threads must be 0 (one per core) or 1 to 4096, got 2000000000");
}

TEST(PipelineBuilderTest, TheLargestValuesBuildWithoutTakingMemoryUpFront) {
  struct Big {
    char bytes[256];
  };
  const struct mallinfo2 before = mallinfo2();
  auto built = PipelineBuilder<>()
                   .AddSource([]() -> std::optional<Big> { return std::nullopt; })
                   .Pipe([](Big big) { return big; }, {.concurrency = kMaxConcurrency})
                   .AddSink(kMaxBufferSize)
                   .Build({.num_threads = 1});
  ASSERT_TRUE(built.ok()) << built.status();
  const struct mallinfo2 after = mallinfo2();
  // Allocated up front, the sink alone would take 1,048,576 x 272 bytes (285 MB).
  EXPECT_LT((after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd), size_t{4} << 20);
  EXPECT_TRUE(absl::IsOutOfRange((*built)->Next().status()));
}

TEST(PipelineBuilderTest, DefaultStageNamesFollowPosition) {
  auto built = Source().Pipe(Identity).Pipe(Identity, {.concurrency = -2}).AddSink(1).Build();
  ExpectInvalid(built.status(), "stage 'pipe2': concurrency must be 0 (automatic) or 1 to");
}

TEST(PipelineBuilderTest, AutomaticConcurrencyFollowsThePool) {
  auto built = Source()
                   .Pipe(Identity, {.concurrency = kAutomatic, .name = "sync"})
                   .PipeAsync([](int x, Completion<int> done) { done(x); },
                              {.concurrency = kAutomatic, .name = "async"})
                   .Pipe(Identity, {.concurrency = 3, .name = "explicit"})
                   .AssembleBatches(4)
                   .AddSink(1)
                   .Build({.num_threads = 6});
  ASSERT_TRUE(built.ok()) << built.status();
  PipelineStats stats = (*built)->Stats();
  EXPECT_EQ(stats.stages[1].concurrency, 6);   // One task per pool thread.
  EXPECT_EQ(stats.stages[2].concurrency, 24);  // Async: max(16, 4 x threads).
  EXPECT_EQ(stats.stages[3].concurrency, 3);
  EXPECT_EQ(stats.stages[4].concurrency, 13);  // Open batches: 1 + ceil(8 x 6 / 4).
  // The channel in front of a stage holds max(2, its concurrency).
  EXPECT_EQ(stats.stages[0].queue_capacity, 6);
  EXPECT_EQ(stats.stages[1].queue_capacity, 24);
}

TEST(PipelineBuilderTest, AssembleBatchesNeedsOneItemPerInputBeforeIt) {
  ExpectInvalid(Source()
                    .Pipe(
                        [](int x) {
                          return Many<int>{{x, x}};
                        },
                        {.name = "twice"})
                    .AssembleBatches(4)
                    .AddSink(1)
                    .Build()
                    .status(),
                "AssembleBatches(): every step between the source and it must give at most one "
                "item per input, but 'twice' may give several");
  ExpectInvalid(Source().Aggregate(2).Disaggregate().AssembleBatches(4).AddSink(1).Build().status(),
                "but 'aggregate(2)' may give several");
  // Filters are fine (a filtered item leaves its position empty), and so is fan-out after it.
  EXPECT_TRUE(Source()
                  .Pipe([](int x) -> std::optional<int> { return x; })
                  .AssembleBatches(4)
                  .Pipe([](AssembledBatch<int> b) { return Many<int>{b.items}; })
                  .AddSink(1)
                  .Build()
                  .ok());
  ExpectInvalid(Source().AssembleBatches(0).AddSink(1).Build().status(),
                "AssembleBatches(): size must be 1 to 1048576, got 0");
  ExpectInvalid(Source().AssembleBatches(4, {.max_open_batches = 5000}).AddSink(1).Build().status(),
                "AssembleBatches(): max_open_batches must be 0 (automatic) or 1 to 1024, got 5000");
}

TEST(PipelineBuilderTest, RejectsBadFailureBudgets) {
  ExpectInvalid(
      Source().Pipe(Identity, {.name = "x", .max_failures = -5}).AddSink(1).Build().status(),
      "stage 'x': max_failures must be >= 0, or -1 (kUnlimitedFailures), got -5");
  ExpectInvalid(Source().AddSink(1).Build({.max_failures = -3}).status(),
                "max_failures must be >= 0, or -1 (kUnlimitedFailures), got -3");
}

TEST(PipelineBuilderTest, RejectsZeroAggregateAndSinkSizes) {
  ExpectInvalid(Source().Aggregate(0).AddSink(1).Build().status(),
                "Aggregate(): size must be 1 to 1048576, got 0");
  ExpectInvalid(Source().AddSink(0).Build().status(),
                "AddSink(): buffer_size must be 1 to 1048576, got 0");
}

TEST(PipelineBuilderTest, RejectsBadThreadSettings) {
  ExpectInvalid(Source().AddSink(1).Build({.num_threads = -1}).status(),
                "num_threads must be 0 (one per core) or 1 to 4096, got -1");
  absl::StatusOr<std::unique_ptr<Runtime>> runtime = Runtime::Create({.num_threads = 1});
  ASSERT_TRUE(runtime.ok());
  ExpectInvalid(Source().AddSink(1).Build({.num_threads = 4, .runtime = runtime->get()}).status(),
                "num_threads must be 0 when a shared runtime is given");
  ExpectInvalid(Runtime::Create({.num_threads = -2}).status(),
                "num_threads must be 0 (one per core) or 1 to 4096, got -2");
}

TEST(PipelineBuilderTest, RejectsStatsCallbackWithoutInterval) {
  ExpectInvalid(Source().AddSink(1).Build({.stats_callback = [](const PipelineStats&) {}}).status(),
                "stats_interval must be > 0 when stats_callback is set, got 0");
}

TEST(PipelineBuilderTest, BuildsAValidPipelineWithoutStartingIt) {
  int pulls = 0;
  auto built = PipelineBuilder<>()
                   .AddSource([&pulls]() -> std::optional<int> {
                     ++pulls;
                     return std::nullopt;
                   })
                   .AddSink(1)
                   .Build({.num_threads = 1});
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ((*built)->Stats().stages[0].tasks_started, 0);
  EXPECT_EQ(pulls, 0);
}

}  // namespace
}  // namespace dataloader
