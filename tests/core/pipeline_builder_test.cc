// Copyright 2026 The dataloader Authors.
//
// Build() validation: every bad value gets InvalidArgument naming the value and its stage.
// (A stage whose input type does not fit does not compile: see stage_type_mismatch.cc.)
#include "core/pipeline_builder.h"

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

TEST(PipelineBuilderTest, RejectsZeroConcurrencyNamingTheStage) {
  auto built = Source().Pipe(Identity, {.concurrency = 0, .name = "decode"}).AddSink(1).Build();
  ExpectInvalid(built.status(), "stage 'decode': concurrency must be >= 1, got 0");
}

TEST(PipelineBuilderTest, DefaultStageNamesFollowPosition) {
  auto built = Source().Pipe(Identity).Pipe(Identity, {.concurrency = -2}).AddSink(1).Build();
  ExpectInvalid(built.status(), "stage 'pipe2': concurrency must be >= 1, got -2");
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
                "Aggregate(): size must be >= 1, got 0");
  ExpectInvalid(Source().AddSink(0).Build().status(), "AddSink(): buffer_size must be >= 1, got 0");
}

TEST(PipelineBuilderTest, RejectsBadThreadSettings) {
  ExpectInvalid(Source().AddSink(1).Build({.num_threads = -1}).status(),
                "num_threads must be >= 0 (0 = one per core), got -1");
  absl::StatusOr<std::unique_ptr<Runtime>> runtime = Runtime::Create({.num_threads = 1});
  ASSERT_TRUE(runtime.ok());
  ExpectInvalid(Source().AddSink(1).Build({.num_threads = 4, .runtime = runtime->get()}).status(),
                "num_threads must be 0 when a shared runtime is given");
  ExpectInvalid(Runtime::Create({.num_threads = -2}).status(),
                "threads must be in [0, 4096] (0: one per core), got -2");
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
