// Copyright 2026 The dataloader Authors.
//
// Behaviour of a running pipeline, each semantic observed rather than trusted: concurrency
// peaks, ordering, batching, backpressure, cancellation, failures, async ops, fairness.
#include "core/pipeline.h"

#include <atomic>
#include <functional>
#include <latch>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/pipeline_builder.h"
#include "core/runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/test_util.h"

namespace dataloader {
namespace {

using ::dataloader::testing::Drain;
using ::dataloader::testing::Event;
using ::dataloader::testing::PeakCounter;
using ::dataloader::testing::WaitUntil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int> Iota(int n) {
  std::vector<int> values(n);
  std::iota(values.begin(), values.end(), 0);
  return values;
}

TEST(PipelineTest, PassesEveryItemThroughStagesToTheEnd) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 100))
                      .Pipe([](int x) { return x * 2; })
                      .Pipe([](int x) { return std::to_string(x); }, {.concurrency = 3})
                      .AddSink(4)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  auto [items, end] = Drain(**pipeline);
  EXPECT_TRUE(absl::IsOutOfRange(end)) << end;
  ASSERT_EQ(items.size(), 100u);
  std::vector<int> values;
  for (const std::string& item : items) values.push_back(std::stoi(item));
  std::sort(values.begin(), values.end());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(values[i], 2 * i);
  EXPECT_TRUE((*pipeline)->status().ok());
  // After the end, Next() keeps answering OutOfRange.
  EXPECT_TRUE(absl::IsOutOfRange((*pipeline)->Next().status()));
}

TEST(PipelineTest, RangeForVisitsEveryItemAndStatusIsOkAfter) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(Iota(50))
                      .Pipe([](int x) { return x + 1; }, {.output_order = OutputOrder::kInput})
                      .AddSink(2)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  int expected = 1;
  for (int value : **pipeline) EXPECT_EQ(value, expected++);
  EXPECT_EQ(expected, 51);
  EXPECT_TRUE((*pipeline)->status().ok());
}

TEST(PipelineTest, CallableSourceEndsWithNullopt) {
  int next = 0;
  auto pipeline = PipelineBuilder<>()
                      .AddSource([&next]() -> std::optional<int> {
                        if (next == 7) return std::nullopt;
                        return next++;
                      })
                      .AddSink(1)
                      .Build({.num_threads = 1});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_THAT(items, ElementsAre(0, 1, 2, 3, 4, 5, 6));
  EXPECT_TRUE(absl::IsOutOfRange(end));
}

TEST(PipelineTest, PeakSimultaneousExecutionsEqualConcurrency) {
  constexpr int kConcurrency = 3;
  PeakCounter counter;
  // The first kConcurrency tasks wait for each other, so the peak reaches the limit; any task
  // started beyond the limit would push the peak above it.
  std::latch all_in(kConcurrency);
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 40))
                      .Pipe(
                          [&](int x) {
                            counter.Enter();
                            if (x < kConcurrency) all_in.arrive_and_wait();
                            counter.Exit();
                            return x;
                          },
                          {.concurrency = kConcurrency})
                      .AddSink(2)
                      .Build({.num_threads = 8});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_EQ(items.size(), 40u);
  EXPECT_EQ(counter.peak(), kConcurrency);
}

TEST(PipelineTest, PoolSizeBoundsExecutionWhenConcurrencyIsLarger) {
  constexpr int kThreads = 2;
  constexpr int kConcurrency = 8;
  PeakCounter running;
  std::atomic<int64_t> peak_scheduled{0};
  Pipeline<int>* self = nullptr;
  auto pipeline =
      PipelineBuilder<>()
          .AddSource(std::views::iota(0, 60))
          .Pipe(
              [&](int x) {
                running.Enter();
                // Scheduled tasks, as the engine counts them, seen from inside one.
                const int64_t scheduled = self->Stats().stages[1].tasks_in_flight;
                int64_t peak = peak_scheduled.load();
                while (scheduled > peak && !peak_scheduled.compare_exchange_weak(peak, scheduled)) {
                }
                absl::SleepFor(absl::Milliseconds(2));
                running.Exit();
                return x;
              },
              {.concurrency = kConcurrency, .name = "work"})
          .AddSink(2)
          .Build({.num_threads = kThreads});
  ASSERT_TRUE(pipeline.ok());
  self = pipeline->get();
  auto [items, end] = Drain(**pipeline);
  EXPECT_EQ(items.size(), 60u);
  // All 8 tasks get scheduled, but only the 2 pool threads run them.
  EXPECT_EQ(peak_scheduled.load(), kConcurrency);
  EXPECT_EQ(running.peak(), kThreads);
}

TEST(PipelineTest, InputOrderIsKeptUnderRandomTaskDelays) {
  PeakCounter counter;
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 300))
                      .Pipe(
                          [&](int x) {
                            counter.Enter();
                            std::mt19937 random(x);
                            absl::SleepFor(absl::Microseconds(random() % 2000));
                            counter.Exit();
                            return x;
                          },
                          {.concurrency = 8, .output_order = OutputOrder::kInput})
                      .AddSink(3)
                      .Build({.num_threads = 8});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_EQ(items, Iota(300));
  // Input order never lets more than `concurrency` tasks run (SPDL's lets N+2).
  EXPECT_LE(counter.peak(), 8);
}

TEST(PipelineTest, InputOrderHoldsAFinishedItemBehindASlowOne) {
  Event second_done;
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 2))
                      .Pipe(
                          [&](int x) {
                            if (x == 0) second_done.Wait();
                            if (x == 1) second_done.Notify();
                            return x;
                          },
                          {.concurrency = 2, .output_order = OutputOrder::kInput})
                      .AddSink(2)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_THAT(items, ElementsAre(0, 1));
}

TEST(PipelineTest, CompletionOrderLetsFastItemsPassSlowOnes) {
  Event consumer_got_one;
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 5))
                      .Pipe(
                          [&](int x) {
                            // Item 0 finishes only after the consumer received another item.
                            if (x == 0) {
                              EXPECT_TRUE(consumer_got_one.Wait());
                            }
                            return x;
                          },
                          {.concurrency = 2})
                      .AddSink(2)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  absl::StatusOr<int> first = (*pipeline)->Next();
  ASSERT_TRUE(first.ok());
  EXPECT_NE(*first, 0);
  consumer_got_one.Notify();
  auto [rest, end] = Drain(**pipeline);
  rest.push_back(*first);
  std::sort(rest.begin(), rest.end());
  EXPECT_EQ(rest, Iota(5));
}

TEST(PipelineTest, InputOrderSlowItemDoesNotHoldRunSlots) {
  // Concurrency 2, reorder window 4: while item 0 runs, items 1..5 run one after another on
  // the other slot and wait in the window (span 6 = concurrency + window); item 6 waits for
  // item 0. If finished results kept their run slot, only item 1 would have run.
  Event release;
  std::atomic<int> finished{0};
  std::atomic<int> started{0};
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 20))
                      .Pipe(
                          [&](int x) {
                            ++started;
                            if (x == 0) {
                              EXPECT_TRUE(release.Wait());
                            } else {
                              // Not a cheap stage (see kCheapTaskTime): tasks go to any thread.
                              absl::SleepFor(absl::Microseconds(200));
                            }
                            ++finished;
                            return x;
                          },
                          {.concurrency = 2,
                           .name = "ordered",
                           .output_order = OutputOrder::kInput,
                           .reorder_window = 4})
                      .AddSink(2)
                      .Build({.num_threads = 4});
  ASSERT_TRUE(pipeline.ok());
  (*pipeline)->Start();
  ASSERT_TRUE(WaitUntil([&] { return finished.load() >= 5; }));
  absl::SleepFor(absl::Milliseconds(50));  // Give a broken bound the time to show.
  EXPECT_EQ(finished.load(), 5);
  EXPECT_EQ(started.load(), 6);
  PipelineStats stats = (*pipeline)->Stats();
  EXPECT_EQ(stats.stages[1].tasks_in_flight, 1);  // Only the slow item runs.
  EXPECT_EQ(stats.stages[1].held_results, 6);
  release.Notify();
  auto [items, end] = Drain(**pipeline);
  EXPECT_TRUE(absl::IsOutOfRange(end)) << end;
  EXPECT_EQ(items, Iota(20));
}

TEST(PipelineTest, AutomaticConcurrencyKeepsEveryPoolThreadBusy) {
  constexpr int kThreads = 4;
  PeakCounter counter;
  std::latch all_in(kThreads);
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 40))
                      .Pipe(
                          [&](int x) {
                            counter.Enter();
                            if (x < kThreads) all_in.arrive_and_wait();
                            counter.Exit();
                            return x;
                          },
                          {.concurrency = kAutomatic})
                      .AddSink(2)
                      .Build({.num_threads = kThreads});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_EQ(items.size(), 40u);
  EXPECT_EQ(counter.peak(), kThreads);
  EXPECT_EQ((*pipeline)->Stats().stages[1].concurrency, kThreads);
}

// What AssembleBatches(size) must give for items 0..n-1 when `dropped` ones fail.
std::vector<AssembledBatch<int>> ExpectedBatches(int n, int size,
                                                 const std::function<bool(int)>& dropped) {
  std::vector<AssembledBatch<int>> batches;
  for (int first = 0; first < n; first += size) {
    AssembledBatch<int>& batch = batches.emplace_back();
    batch.sequence = first / size;
    for (int x = first; x < std::min(n, first + size); ++x) {
      if (dropped(x)) continue;
      batch.items.push_back(x * 10);
      batch.slots.push_back(x - first);
    }
  }
  return batches;
}

void ExpectSameBatches(const std::vector<AssembledBatch<int>>& got,
                       const std::vector<AssembledBatch<int>>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t k = 0; k < got.size(); ++k) {
    EXPECT_EQ(got[k].sequence, expected[k].sequence);
    EXPECT_EQ(got[k].items, expected[k].items) << "batch " << k;
    EXPECT_EQ(got[k].slots, expected[k].slots) << "batch " << k;
  }
}

TEST(PipelineTest, AssembledBatchesAreExactUnderRandomDelaysAtEveryThreadCount) {
  // Two completion-order stages with random task times, one failing and one filtering items;
  // every thread count and a few windows give the same batches, in sequence.
  constexpr int kItems = 203;
  constexpr int kSize = 8;
  auto dropped = [](int x) { return x % 7 == 3 || x % 11 == 5; };
  const std::vector<AssembledBatch<int>> expected = ExpectedBatches(kItems, kSize, dropped);
  for (int threads : {1, 2, 3, 4, 8, 16}) {
    for (int max_open : {0, 1, 3}) {
      SCOPED_TRACE(absl::StrCat("threads ", threads, ", max_open_batches ", max_open));
      auto delay = [](int x, int salt) {
        std::mt19937 random(x * 31 + salt);
        absl::SleepFor(absl::Microseconds(random() % 300));
      };
      auto pipeline =
          PipelineBuilder<>()
              .AddSource(std::views::iota(0, kItems))
              .Pipe(
                  [&](int x) -> absl::StatusOr<int> {
                    delay(x, 1);
                    if (x % 7 == 3) return absl::DataLossError("bad item");
                    return x * 10;
                  },
                  {.concurrency = kAutomatic, .name = "fail"})
              .PipeAsync(
                  [](int x, Completion<std::optional<int>> done, const TaskContext& context) {
                    std::mt19937 random(x);
                    context.loop().RunAfter(absl::Microseconds(random() % 300),
                                            [x, done = std::move(done)]() mutable {
                                              if ((x / 10) % 11 == 5) {
                                                done(std::optional<int>());
                                              } else {
                                                done(std::optional<int>(x));
                                              }
                                            });
                  },
                  {.concurrency = kAutomatic, .name = "filter"})
              .AssembleBatches(kSize, {.max_open_batches = max_open})
              .AddSink(2)
              .Build({.num_threads = threads});
      ASSERT_TRUE(pipeline.ok()) << pipeline.status();
      auto [batches, end] = Drain(**pipeline);
      EXPECT_TRUE(absl::IsOutOfRange(end)) << end;
      ExpectSameBatches(batches, expected);
      EXPECT_EQ((*pipeline)->Stats().failures, 29);  // 3, 10, ..., 199.
    }
  }
}

TEST(PipelineTest, AssembleBatchesHoldsExactlyMaxOpenBatches) {
  // Item 0 never finishes until released: its batch cannot leave, so the source stops after
  // exactly max_open_batches x size items, and the other threads finish every one of those.
  constexpr int kSize = 4;
  constexpr int kMaxOpen = 3;
  Event release;
  std::atomic<int> pulled{0};
  std::atomic<int> finished{0};
  int next = 0;
  auto pipeline = PipelineBuilder<>()
                      .AddSource([&]() -> std::optional<int> {
                        if (next == 40) return std::nullopt;
                        ++pulled;
                        return next++;
                      })
                      .Pipe(
                          [&](int x) {
                            if (x == 0) {
                              EXPECT_TRUE(release.Wait());
                            } else {
                              // Not a cheap stage (see kCheapTaskTime): tasks go to any thread.
                              absl::SleepFor(absl::Microseconds(200));
                            }
                            ++finished;
                            return x * 10;
                          },
                          {.concurrency = 8, .name = "work"})
                      .AssembleBatches(kSize, {.max_open_batches = kMaxOpen})
                      .AddSink(2)
                      .Build({.num_threads = 4});
  ASSERT_TRUE(pipeline.ok());
  (*pipeline)->Start();
  ASSERT_TRUE(WaitUntil([&] { return finished.load() >= kSize * kMaxOpen - 1; }));
  absl::SleepFor(absl::Milliseconds(100));  // Give a broken bound the time to show.
  EXPECT_EQ(pulled.load(), kSize * kMaxOpen);
  EXPECT_EQ(finished.load(), kSize * kMaxOpen - 1);
  PipelineStats stats = (*pipeline)->Stats();
  EXPECT_EQ(stats.stages[2].open_batches, kMaxOpen);
  EXPECT_EQ(stats.stages[2].concurrency, kMaxOpen);
  EXPECT_EQ(stats.stages[1].tasks_in_flight, 1);  // Nothing else waits on a thread.
  release.Notify();
  auto [batches, end] = Drain(**pipeline);
  EXPECT_TRUE(absl::IsOutOfRange(end)) << end;
  ExpectSameBatches(batches, ExpectedBatches(40, kSize, [](int) { return false; }));
  EXPECT_EQ((*pipeline)->Stats().stages[2].open_batches, 0);
}

TEST(PipelineTest, AssembleBatchesShortLastBatchAndDropLast) {
  for (bool drop_last : {false, true}) {
    auto pipeline = PipelineBuilder<>()
                        .AddSource(std::views::iota(0, 10))
                        .Pipe([](int x) { return x * 10; }, {.concurrency = 3})
                        .AssembleBatches(4, {.max_open_batches = 1, .drop_last = drop_last})
                        .AddSink(1)
                        .Build({.num_threads = 2});
    ASSERT_TRUE(pipeline.ok());
    auto [batches, end] = Drain(**pipeline);
    EXPECT_TRUE(absl::IsOutOfRange(end)) << end;
    std::vector<AssembledBatch<int>> expected = ExpectedBatches(10, 4, [](int) { return false; });
    if (drop_last) expected.pop_back();
    ExpectSameBatches(batches, expected);
  }
  // Exactly full batches, and no items at all.
  auto full = PipelineBuilder<>()
                  .AddSource(std::views::iota(0, 8))
                  .AssembleBatches(4, {.max_open_batches = 1})
                  .AddSink(1)
                  .Build({.num_threads = 1});
  ASSERT_TRUE(full.ok());
  auto [full_batches, full_end] = Drain(**full);
  EXPECT_EQ(full_batches.size(), 2u);
  EXPECT_TRUE(absl::IsOutOfRange(full_end)) << full_end;
  auto none = PipelineBuilder<>()
                  .AddSource(std::vector<int>{})
                  .AssembleBatches(4)
                  .AddSink(1)
                  .Build({.num_threads = 1});
  ASSERT_TRUE(none.ok());
  auto [no_batches, none_end] = Drain(**none);
  EXPECT_TRUE(no_batches.empty());
  EXPECT_TRUE(absl::IsOutOfRange(none_end)) << none_end;
}

TEST(PipelineTest, AssembledBatchWhoseItemsAllFailIsEmptyAndKeepsItsPlace) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 12))
                      .Pipe(
                          [](int x) -> absl::StatusOr<int> {
                            if (x >= 4 && x < 8) return absl::DataLossError("bad");
                            return x * 10;
                          },
                          {.concurrency = 4})
                      .AssembleBatches(4)
                      .AddSink(1)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  auto [batches, end] = Drain(**pipeline);
  EXPECT_TRUE(absl::IsOutOfRange(end)) << end;
  ExpectSameBatches(batches, ExpectedBatches(12, 4, [](int x) { return x >= 4 && x < 8; }));
  EXPECT_TRUE(batches[1].items.empty());
}

TEST(PipelineTest, AggregateKeepsTheShortLastBatch) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 10))
                      .Aggregate(4)
                      .AddSink(1)
                      .Build({.num_threads = 1});
  ASSERT_TRUE(pipeline.ok());
  auto [batches, end] = Drain(**pipeline);
  EXPECT_THAT(batches,
              ElementsAre(ElementsAre(0, 1, 2, 3), ElementsAre(4, 5, 6, 7), ElementsAre(8, 9)));
}

TEST(PipelineTest, AggregateDropLastDropsTheShortBatch) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 10))
                      .Aggregate(4, {.drop_last = true})
                      .AddSink(1)
                      .Build({.num_threads = 1});
  ASSERT_TRUE(pipeline.ok());
  auto [batches, end] = Drain(**pipeline);
  EXPECT_THAT(batches, ElementsAre(ElementsAre(0, 1, 2, 3), ElementsAre(4, 5, 6, 7)));
}

TEST(PipelineTest, DisaggregateRestoresTheItemsOfEachBatch) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 11))
                      .Aggregate(3)
                      .Pipe([](std::vector<int> batch) {
                        for (int& x : batch) x *= 10;
                        return batch;
                      })
                      .Disaggregate()
                      .AddSink(2)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  std::vector<int> expected;
  for (int i = 0; i < 11; ++i) expected.push_back(10 * i);
  EXPECT_EQ(items, expected);
}

TEST(PipelineTest, FilterDropsAndManyFansOut) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 20))
                      .Pipe([](int x) -> std::optional<int> {
                        if (x % 2 == 1) return std::nullopt;
                        return x;
                      })
                      .Pipe(
                          [](int x) {
                            return Many<int>{{x, x + 1, x + 2}};
                          },
                          {.concurrency = 2, .output_order = OutputOrder::kInput})
                      .AddSink(1)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  std::vector<int> expected;
  for (int x = 0; x < 20; x += 2) expected.insert(expected.end(), {x, x + 1, x + 2});
  EXPECT_EQ(items, expected);
  PipelineStats stats = (*pipeline)->Stats();
  EXPECT_EQ(stats.stages[1].items_in, 20);
  EXPECT_EQ(stats.stages[1].items_out, 10);
  EXPECT_EQ(stats.stages[2].items_out, 30);
}

TEST(PipelineTest, StalledConsumerStallsTheSourceAtTheDocumentedBound) {
  std::atomic<int> pulled{0};
  int next = 0;
  // Tasks of 20 us: not cheap (see kCheapTaskTime), so one item per task and the channels'
  // base capacities.
  auto work = [](int x) {
    absl::SleepFor(absl::Microseconds(20));
    return x;
  };
  auto pipeline = PipelineBuilder<>()
                      .AddSource([&]() -> std::optional<int> {
                        ++pulled;
                        return next++;
                      })
                      .Pipe(work, {.concurrency = 3})
                      .Pipe(work, {.concurrency = 2})
                      .AddSink(4)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  (*pipeline)->Start();
  // Bound (README, "Backpressure"): channel capacities + slots. Channels: in front of a stage
  // max(2, its concurrency) = 3 and 2, the sink 4; slots 3 + 2. Total 14.
  constexpr int kBound = 3 + 2 + 4 + 3 + 2;
  EXPECT_TRUE(WaitUntil([&] { return pulled.load() >= kBound; }));
  absl::SleepFor(absl::Milliseconds(100));  // Give a broken bound the time to show.
  EXPECT_EQ(pulled.load(), kBound);
  PipelineStats stats = (*pipeline)->Stats();
  EXPECT_EQ(stats.stages.back().queue_size, 4);
  EXPECT_EQ(stats.stages.back().queue_capacity, 4);
  // Reading resumes the flow, in bounded steps. A stalled pipeline restarts when the consumer
  // has taken the sink down to half (its low-water mark, 2 of 4), so after 100 items it is
  // full again, or at most one item short of it.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*pipeline)->Next().ok());
  EXPECT_TRUE(WaitUntil([&] { return pulled.load() >= kBound + 100 - 1; }));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_GE(pulled.load(), kBound + 100 - 1);
  EXPECT_LE(pulled.load(), kBound + 100);
}

TEST(PipelineTest, StalledConsumerWithCheapStagesStaysWithinTheirBound) {
  std::atomic<int> pulled{0};
  int next = 0;
  auto pipeline = PipelineBuilder<>()
                      .AddSource([&]() -> std::optional<int> {
                        ++pulled;
                        return next++;
                      })
                      .Pipe([](int x) { return x; }, {.concurrency = 3})
                      .Pipe([](int x) { return x; }, {.concurrency = 2})
                      .AddSink(4)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  // Cheap stages (identity) batch items: the channel in front of each holds up to 16 once the
  // stage is known to be cheap. Bound: 16 + 16 + 4 + 3 + 2.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE((*pipeline)->Next().ok());
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_LE(pulled.load(), 1000 + 16 + 16 + 4 + 3 + 2);
  EXPECT_GT(pulled.load(), 1000);
}

TEST(PipelineTest, CancelWhileTasksRunEndsWithCancelledAndWakesLongTasks) {
  std::latch running(2);
  std::atomic<int> saw_cancel{0};
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 1000))
                      .Pipe(
                          [&](int x, const TaskContext& context) {
                            running.count_down();
                            while (!context.IsCancelled()) absl::SleepFor(absl::Microseconds(100));
                            ++saw_cancel;
                            return x;
                          },
                          {.concurrency = 2})
                      .AddSink(2)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  (*pipeline)->Start();
  running.wait();
  std::thread consumer([&] { EXPECT_TRUE(absl::IsCancelled((*pipeline)->Next().status())); });
  (*pipeline)->Cancel();
  consumer.join();
  EXPECT_TRUE(absl::IsCancelled((*pipeline)->Stop()));
  EXPECT_EQ(saw_cancel.load(), 2);
  EXPECT_TRUE(absl::IsCancelled((*pipeline)->status()));
}

TEST(PipelineTest, CancelWhileTheSinkIsFullDropsBufferedItems) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 1000))
                      .Pipe([](int x) { return x; }, {.concurrency = 2})
                      .AddSink(3)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  (*pipeline)->Start();
  ASSERT_TRUE(WaitUntil([&] { return (*pipeline)->Stats().stages.back().queue_size == 3; }));
  (*pipeline)->Cancel();
  EXPECT_TRUE(absl::IsCancelled((*pipeline)->Next().status()));
  EXPECT_TRUE(absl::IsCancelled((*pipeline)->Stop()));
  EXPECT_EQ((*pipeline)->Stats().stages.back().queue_size, 0);
}

TEST(PipelineTest, StopWaitsForRunningCallsAndNoneRunAfter) {
  std::atomic<int> calls_after_stop{0};
  std::atomic<bool> stopped{false};
  Event running;
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 100000))
                      .Pipe(
                          [&](int x) {
                            if (stopped.load()) ++calls_after_stop;
                            running.Notify();
                            absl::SleepFor(absl::Microseconds(50));
                            return x;
                          },
                          {.concurrency = 4})
                      .AddSink(2)
                      .Build({.num_threads = 4});
  ASSERT_TRUE(pipeline.ok());
  (*pipeline)->Start();
  ASSERT_TRUE(running.Wait());
  EXPECT_TRUE(absl::IsCancelled((*pipeline)->Stop()));
  stopped.store(true);
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(calls_after_stop.load(), 0);
}

// What a gRPC reaction uses: it must never wait for a stage call (which may take seconds, or
// never return), yet the pipeline must be destroyed only once nothing of it runs.
TEST(PipelineTest, StopAsyncReturnsAtOnceAndCallsDoneAfterTheLastRunningCall) {
  auto runtime = *Runtime::Create({.num_threads = 2});
  Event entered, release, done;
  std::atomic<bool> call_returned{false};
  std::atomic<bool> returned_before_done{false};
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 1000))
                      .Pipe([&](int x) {
                        if (x == 0) {
                          entered.Notify();
                          release.Wait();
                          call_returned.store(true);
                        }
                        return x;
                      })
                      .AddSink(2)
                      .Build({.runtime = runtime.get()});
  ASSERT_TRUE(pipeline.ok());
  (*pipeline)->Start();
  ASSERT_TRUE(entered.Wait());
  Pipeline<int>* raw = pipeline->release();
  const absl::Time start = absl::Now();
  raw->StopAsync([&, raw] {
    returned_before_done.store(call_returned.load());
    delete raw;  // Allowed: nothing of the pipeline runs any more.
    done.Notify();
  });
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));  // Did not wait for the blocked call.
  EXPECT_FALSE(done.Wait(absl::Milliseconds(50)));
  release.Notify();
  ASSERT_TRUE(done.Wait());
  EXPECT_TRUE(returned_before_done.load());
}

TEST(PipelineTest, StopAsyncOnAnIdlePipelineCallsDoneSoon) {
  auto runtime = *Runtime::Create({.num_threads = 1});
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 10))
                      .AddSink(2)
                      .Build({.runtime = runtime.get()});
  ASSERT_TRUE(pipeline.ok());
  ASSERT_TRUE((*pipeline)->Next().ok());
  Event done;
  (*pipeline)->StopAsync([&] { done.Notify(); });
  ASSERT_TRUE(done.Wait());
  EXPECT_TRUE(absl::IsCancelled((*pipeline)->status()));
}

TEST(PipelineTest, DestroyingARunningPipelineStopsIt) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  {
    auto pipeline = PipelineBuilder<>()
                        .AddSource(std::views::iota(0, 1000000))
                        .Pipe(
                            [calls](int x) {
                              ++*calls;
                              return x;
                            },
                            {.concurrency = 2})
                        .AddSink(2)
                        .Build({.num_threads = 2});
    ASSERT_TRUE(pipeline.ok());
    ASSERT_TRUE((*pipeline)->Next().ok());  // Running, sink refilling, tasks in flight.
  }
  const int after = calls->load();
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(calls->load(), after);
}

// Regressions (issue 10, defect 12).

// A pipeline that owns its runtime, destroyed from its own ready callback (on its event loop)
// or from its own stage function (on its pool): ~EventLoop / ~ThreadPool joined their own
// thread and aborted.
TEST(PipelineTest, DestroyedFromItsOwnReadyCallback) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 1000))
                      .Pipe([](int x) { return x; }, {.concurrency = 2})
                      .AddSink(2)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  std::unique_ptr<Pipeline<int>> owned = *std::move(pipeline);
  Event destroyed;
  owned->NotifyWhenReady([&] {
    owned.reset();
    destroyed.Notify();
  });
  EXPECT_TRUE(destroyed.Wait());
}

TEST(PipelineTest, DestroyedFromItsOwnStageFunction) {
  std::unique_ptr<Pipeline<int>> owned;
  Event destroyed;
  std::atomic<int> calls_after{0};
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 1000))
                      .Pipe(
                          [&](int x) {
                            if (destroyed.HasBeenNotified()) ++calls_after;
                            if (x == 2) {  // Before the sink (4) fills.
                              owned.reset();
                              destroyed.Notify();
                            }
                            return x;
                          },
                          {.concurrency = 1})
                      .AddSink(4)
                      .Build({.num_threads = 3});
  ASSERT_TRUE(pipeline.ok());
  owned = *std::move(pipeline);
  owned->Start();
  EXPECT_TRUE(destroyed.Wait());
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(calls_after.load(), 0);
}

// An exception from a ready or stats callback used to reach the event loop and end the process
// (std::terminate); it ends the pipeline with an error naming the callback.
TEST(PipelineTest, ThrowingCallbacksFailThePipelineInsteadOfTheProcess) {
  Event block;
  auto make = [&](BuildOptions options) {
    return PipelineBuilder<>()
        .AddSource(std::views::iota(0, 1000))
        .Pipe(
            [&](int x) {
              if (x == 3) block.Wait(absl::Seconds(5));
              return x;
            },
            {.concurrency = 1})
        .AddSink(2)
        .Build(std::move(options));
  };
  auto ready = make({.num_threads = 2});
  ASSERT_TRUE(ready.ok());
  (*ready)->NotifyWhenReady([] { throw std::runtime_error("reader broke"); });
  ASSERT_TRUE(WaitUntil([&] { return !(*ready)->status().ok(); }));
  EXPECT_TRUE(absl::IsUnknown((*ready)->status())) << (*ready)->status();
  EXPECT_THAT((*ready)->status().message(),
              HasSubstr("a NotifyWhenReady callback threw an exception: reader broke"));

  auto stats = make({.num_threads = 2,
                     .stats_callback = [](const PipelineStats&) { throw std::logic_error("bad"); },
                     .stats_interval = absl::Milliseconds(1)});
  ASSERT_TRUE(stats.ok());
  (*stats)->Start();
  ASSERT_TRUE(WaitUntil([&] { return !(*stats)->status().ok(); }));
  EXPECT_THAT((*stats)->status().message(),
              HasSubstr("the stats callback threw an exception: bad"));
  block.Notify();
}

// An item whose destructor calls into its pipeline. Moved-from items are inert.
class Reentrant {
 public:
  Reentrant(int value, Pipeline<int>** pipeline, std::atomic<int>* destroyed)
      : value_(value), pipeline_(pipeline), destroyed_(destroyed) {}
  Reentrant(Reentrant&& other) noexcept
      : value_(other.value_),
        pipeline_(std::exchange(other.pipeline_, nullptr)),
        destroyed_(other.destroyed_) {}
  Reentrant& operator=(Reentrant&&) = delete;
  ~Reentrant() {
    if (pipeline_ == nullptr || *pipeline_ == nullptr) return;
    (*pipeline_)->Stats();  // Takes the pipeline's lock: must not be held here.
    ++*destroyed_;
  }
  int value() const { return value_; }

 private:
  int value_;
  Pipeline<int>** pipeline_;
  std::atomic<int>* destroyed_;
};

// EndLocked() destroyed queued items and tasks under the pipeline's mutex, although Stop()
// promises otherwise: a destructor that called into the pipeline deadlocked.
TEST(PipelineTest, ItemsDroppedByCancelAreDestroyedOutsideThePipelinesLock) {
  Pipeline<int>* armed = nullptr;  // Set once the queues are full: destructors call in.
  std::atomic<int> destroyed{0};
  Event release;
  int next = 0;
  std::latch running(1);
  auto pipeline = PipelineBuilder<>()
                      .AddSource([&]() -> std::optional<Reentrant> {
                        return Reentrant(next++, &armed, &destroyed);
                      })
                      .Pipe(
                          [&](Reentrant item) {
                            if (item.value() == 0) {
                              running.count_down();
                              release.Wait();
                            }
                            return item.value();
                          },
                          {.concurrency = 1})
                      .AddSink(2)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  (*pipeline)->Start();
  running.wait();
  ASSERT_TRUE(WaitUntil([&] { return (*pipeline)->Stats().stages[0].queue_size == 2; }));
  armed = pipeline->get();
  (*pipeline)->Cancel();  // Drops the two queued items.
  EXPECT_EQ(destroyed.load(), 2);
  armed = nullptr;
  release.Notify();
  EXPECT_TRUE(absl::IsCancelled((*pipeline)->Stop()));
}

TEST(PipelineTest, FailedItemsAreDroppedAndCountedWithinBudget) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 30))
                      .Pipe(
                          [](int x) -> absl::StatusOr<int> {
                            if (x % 3 == 0) return absl::InvalidArgumentError("bad item");
                            return x;
                          },
                          {.concurrency = 2, .name = "check", .max_failures = 10})
                      .AddSink(2)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_TRUE(absl::IsOutOfRange(end)) << end;
  EXPECT_EQ(items.size(), 20u);
  PipelineStats stats = (*pipeline)->Stats();
  EXPECT_EQ(stats.stages[1].tasks_failed, 10);
  EXPECT_EQ(stats.stages[1].tasks_succeeded, 20);
  EXPECT_EQ(stats.failures, 10);
}

TEST(PipelineTest, StageBeyondItsBudgetEndsThePipelineWithAnErrorNamingIt) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 1000))
                      .Pipe(
                          [](int x) -> absl::StatusOr<int> {
                            if (x % 2 == 0) return absl::DataLossError("corrupt sample");
                            return x;
                          },
                          {.name = "decode", .max_failures = 3})
                      .AddSink(2)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_TRUE(absl::IsAborted(end)) << end;
  EXPECT_THAT(end.message(), HasSubstr("stage 'decode'"));
  EXPECT_THAT(end.message(), HasSubstr("4 items failed (max_failures 3)"));
  EXPECT_THAT(end.message(), HasSubstr("corrupt sample"));
  EXPECT_LE(items.size(), 4u);
  EXPECT_EQ((*pipeline)->status(), end);
}

TEST(PipelineTest, PipelineBudgetCountsFailuresOfAllStages) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 1000))
                      .Pipe(
                          [](int x) -> absl::StatusOr<int> {
                            if (x % 10 == 1) return absl::InternalError("a failed");
                            return x;
                          },
                          {.name = "a"})
                      .Pipe(
                          [](int x) -> absl::StatusOr<int> {
                            if (x % 10 == 2) return absl::InternalError("b failed");
                            return x;
                          },
                          {.name = "b"})
                      .AddSink(2)
                      .Build({.num_threads = 2, .max_failures = 5});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_TRUE(absl::IsAborted(end)) << end;
  EXPECT_THAT(end.message(), HasSubstr("pipeline exceeded its failure budget: 6 items failed"));
  // Both stages' failures count, each named with its count (which stage got how many of the
  // six depends on how the threads interleave).
  PipelineStats stats = (*pipeline)->Stats();
  EXPECT_EQ(stats.stages[1].tasks_failed + stats.stages[2].tasks_failed, 6);
  EXPECT_THAT(end.message(), HasSubstr(absl::StrCat("'a' ", stats.stages[1].tasks_failed)));
  if (stats.stages[2].tasks_failed > 0) {
    EXPECT_THAT(end.message(), HasSubstr(absl::StrCat("'b' ", stats.stages[2].tasks_failed)));
  }
}

TEST(PipelineTest, PipelineEndingErrorEndsItWithItsCodeWhateverTheBudget) {
  // The budget is unlimited: without the mark, every item would fail and the pipeline would
  // end cleanly. With it, the first such error ends the pipeline with its own code.
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 1000))
                      .PipeAsync(
                          [](int x, Completion<int> done) {
                            if (x < 5) {
                              done(x);
                            } else {
                              done(EndsPipeline(absl::UnavailableError("store went away")));
                            }
                          },
                          {.name = "download", .output_order = OutputOrder::kInput})
                      .AddSink(8)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_TRUE(absl::IsUnavailable(end)) << end;
  EXPECT_EQ(end.message(), "stage 'download': store went away");
  EXPECT_THAT(items, ElementsAre(0, 1, 2, 3, 4));  // What reached the sink first still comes.
  EXPECT_FALSE(IsPipelineEnding(absl::UnavailableError("plain")));
  EXPECT_FALSE(IsPipelineEnding(absl::OkStatus()));
}

TEST(PipelineTest, ThrowingStageFailsTheItem) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 10))
                      .Pipe(
                          [](int x) {
                            if (x == 4) throw std::runtime_error("boom");
                            return x;
                          },
                          {.name = "thrower", .max_failures = 0})
                      .AddSink(1)
                      .Build({.num_threads = 1});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_TRUE(absl::IsAborted(end)) << end;
  EXPECT_THAT(end.message(), HasSubstr("stage 'thrower' threw an exception: boom"));
  EXPECT_LE(items.size(), 4u);
}

TEST(PipelineTest, FailingSourceEndsThePipelineWithItsError) {
  int next = 0;
  auto pipeline = PipelineBuilder<>()
                      .AddSource(
                          [&]() -> absl::StatusOr<std::optional<int>> {
                            if (next == 5) return absl::NotFoundError("shard file missing");
                            return next++;
                          },
                          {.name = "files"})
                      .Pipe([](int x) { return x; })
                      .AddSink(8)
                      .Build({.num_threads = 1});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_TRUE(absl::IsNotFound(end)) << end;
  EXPECT_THAT(end.message(), HasSubstr("source 'files' failed: shard file missing"));
  EXPECT_LE(items.size(), 5u);
}

TEST(PipelineTest, AsyncOpsHoldNoThread) {
  // 64 ops must be in flight at once on a 2-thread pool: each op completes only after all 64
  // started, which could never happen if an op held a thread while waiting.
  constexpr int kOps = 64;
  Mutex mu;
  std::vector<Completion<int>> pending;
  std::vector<int> inputs;
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, kOps * 3))
                      .PipeAsync(
                          [&](int x, Completion<int> done) {
                            std::vector<Completion<int>> ready;
                            std::vector<int> values;
                            {
                              MutexLock lock(&mu);
                              pending.push_back(std::move(done));
                              inputs.push_back(x);
                              if (static_cast<int>(pending.size()) < kOps) return;
                              ready.swap(pending);
                              values.swap(inputs);
                            }
                            for (size_t i = 0; i < ready.size(); ++i) ready[i](values[i]);
                          },
                          {.concurrency = kOps})
                      .AddSink(kOps)
                      .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline, absl::Seconds(10));
  EXPECT_TRUE(absl::IsOutOfRange(end)) << end;
  std::sort(items.begin(), items.end());
  EXPECT_EQ(items, Iota(kOps * 3));
}

TEST(PipelineTest, AsyncTimerOpsAndFailuresWithContext) {
  auto pipeline =
      PipelineBuilder<>()
          .AddSource(std::views::iota(0, 40))
          .PipeAsync(
              [](int x, Completion<std::optional<int>> done, const TaskContext& context) {
                context.loop().RunAfter(absl::Milliseconds(1),
                                        [x, done = std::move(done)]() mutable {
                                          if (x == 7) {
                                            done(absl::UnavailableError("rpc failed"));
                                          } else if (x % 2 == 0) {
                                            done(std::optional<int>());
                                          } else {
                                            done(x);
                                          }
                                        });
              },
              {.concurrency = 8, .name = "rpc", .output_order = OutputOrder::kInput})
          .AddSink(4)
          .Build({.num_threads = 1});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  std::vector<int> expected;
  for (int x = 1; x < 40; x += 2) {
    if (x != 7) expected.push_back(x);
  }
  EXPECT_EQ(items, expected);
  EXPECT_EQ((*pipeline)->Stats().stages[1].tasks_failed, 1);
}

TEST(PipelineTest, AsyncOpThatDropsItsCompletionFailsTheItem) {
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 3))
                      .PipeAsync(
                          [](int x, Completion<int> done) {
                            if (x != 1) done(x);  // Item 1's completion is dropped.
                          },
                          {.name = "leaky", .max_failures = 0})
                      .AddSink(4)
                      .Build({.num_threads = 1});
  ASSERT_TRUE(pipeline.ok());
  auto [items, end] = Drain(**pipeline);
  EXPECT_TRUE(absl::IsAborted(end)) << end;
  EXPECT_THAT(end.message(), HasSubstr("destroyed its completion without calling it"));
}

TEST(PipelineTest, GetItemTimesOutThenSucceeds) {
  Event release;
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 1))
                      .Pipe([&](int x) {
                        release.Wait();
                        return x;
                      })
                      .AddSink(1)
                      .Build({.num_threads = 1});
  ASSERT_TRUE(pipeline.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded((*pipeline)->GetItem(absl::Milliseconds(20)).status()));
  release.Notify();
  absl::StatusOr<int> item = (*pipeline)->GetItem(absl::Seconds(10));
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(*item, 0);
}

TEST(PipelineTest, ReactorStyleConsumptionWithNotifyWhenReadyAndTryNext) {
  auto pipeline =
      PipelineBuilder<>()
          .AddSource(std::views::iota(0, 200))
          .Pipe([](int x) { return x; }, {.concurrency = 2, .output_order = OutputOrder::kInput})
          .AddSink(2)
          .Build({.num_threads = 2});
  ASSERT_TRUE(pipeline.ok());
  Pipeline<int>* p = pipeline->get();
  // A reactor never blocks: on each notification it takes what is ready, then re-arms.
  struct Reactor {
    Pipeline<int>* pipeline = nullptr;
    std::vector<int> received{};
    absl::Status end{};
    Event done{};
    void OnReady() {
      while (true) {
        absl::StatusOr<std::optional<int>> item = pipeline->TryNext();
        if (!item.ok()) {
          end = item.status();
          done.Notify();
          return;
        }
        if (!item->has_value()) break;
        received.push_back(**item);
      }
      pipeline->NotifyWhenReady([this] { OnReady(); });
    }
  } reactor{p};
  p->NotifyWhenReady([&reactor] { reactor.OnReady(); });
  ASSERT_TRUE(reactor.done.Wait());
  EXPECT_TRUE(absl::IsOutOfRange(reactor.end));
  EXPECT_EQ(reactor.received, Iota(200));
}

TEST(PipelineTest, NotifyWhenReadyReportsAFailureAndACancel) {
  // A reactor waiting for an item must learn that the pipeline ended, or its stream hangs.
  Event release;
  auto failing = PipelineBuilder<>()
                     .AddSource(std::views::iota(0, 100))
                     .Pipe(
                         [&](int) -> absl::StatusOr<int> {
                           release.Wait();
                           return absl::InternalError("broken");
                         },
                         {.name = "broken", .max_failures = 0})
                     .AddSink(2)
                     .Build({.num_threads = 1});
  ASSERT_TRUE(failing.ok());
  Event failed_seen;
  (*failing)->NotifyWhenReady([&] { failed_seen.Notify(); });
  release.Notify();
  ASSERT_TRUE(failed_seen.Wait());
  absl::StatusOr<std::optional<int>> end = (*failing)->TryNext();
  EXPECT_TRUE(absl::IsAborted(end.status())) << end.status();

  Event never;
  auto cancelled = PipelineBuilder<>()
                       .AddSource(std::views::iota(0, 100))
                       .Pipe([&](int x) {
                         never.Wait(absl::Milliseconds(100));
                         return x;
                       })
                       .AddSink(2)
                       .Build({.num_threads = 1});
  ASSERT_TRUE(cancelled.ok());
  Event cancel_seen;
  (*cancelled)->NotifyWhenReady([&] { cancel_seen.Notify(); });
  (*cancelled)->Cancel();
  ASSERT_TRUE(cancel_seen.Wait());
  EXPECT_TRUE(absl::IsCancelled((*cancelled)->TryNext().status()));
}

TEST(PipelineTest, StatsCountTasksAndThePeriodicCallbackRuns) {
  std::latch two_calls(2);
  std::atomic<int> calls{0};
  Event release;
  auto pipeline = PipelineBuilder<>()
                      .AddSource(std::views::iota(0, 10))
                      .Pipe(
                          [&](int x) {
                            if (x == 9) release.Wait();
                            return x;
                          },
                          {.name = "work"})
                      .AddSink(16)
                      .Build({.num_threads = 1,
                              .stats_callback =
                                  [&](const PipelineStats& stats) {
                                    EXPECT_EQ(stats.stages.size(), 2u);
                                    if (calls.fetch_add(1) < 2) two_calls.count_down();
                                  },
                              .stats_interval = absl::Milliseconds(5)});
  ASSERT_TRUE(pipeline.ok());
  (*pipeline)->Start();
  two_calls.wait();
  release.Notify();
  auto [items, end] = Drain(**pipeline);
  EXPECT_EQ(items.size(), 10u);
  PipelineStats stats = (*pipeline)->Stats();
  const StageStats& work = stats.stages[1];
  EXPECT_EQ(work.name, "work");
  EXPECT_EQ(work.tasks_started, 10);
  EXPECT_EQ(work.tasks_succeeded, 10);
  EXPECT_EQ(work.items_in, 10);
  EXPECT_EQ(work.items_out, 10);
  EXPECT_EQ(work.tasks_in_flight, 0);
  EXPECT_GT(work.p99_task_time, absl::ZeroDuration());
  EXPECT_GE(work.p99_task_time, work.p50_task_time);
  EXPECT_EQ(stats.stages[0].name, "source");
  EXPECT_EQ(stats.stages[0].items_out, 10);
  EXPECT_EQ(stats.items_emitted, 10);
}

TEST(PipelineTest, PipelinesSharingARuntimeTakeFairTurns) {
  absl::StatusOr<std::unique_ptr<Runtime>> runtime = Runtime::Create({.num_threads = 1});
  ASSERT_TRUE(runtime.ok());
  Mutex mu;
  std::string log;  // 'a' or 'b' per task, in execution order.
  auto work = [&](char name) {
    return [&mu, &log, name](int x) {
      absl::SleepFor(absl::Microseconds(200));
      MutexLock lock(&mu);
      log.push_back(name);
      return x;
    };
  };
  auto busy = PipelineBuilder<>()
                  .AddSource(std::views::iota(0, 400))
                  .Pipe(work('a'), {.concurrency = 16})
                  .AddSink(64)
                  .Build({.runtime = runtime->get()});
  auto light = PipelineBuilder<>()
                   .AddSource(std::views::iota(0, 40))
                   .Pipe(work('b'), {.concurrency = 1})
                   .AddSink(64)
                   .Build({.runtime = runtime->get()});
  ASSERT_TRUE(busy.ok());
  ASSERT_TRUE(light.ok());
  (*busy)->Start();
  (*light)->Start();
  std::thread consume_busy([&] { Drain(**busy); });
  auto [light_items, end] = Drain(**light);
  consume_busy.join();
  EXPECT_EQ(light_items.size(), 40u);
  // While the light pipeline has work, the busy one never gets many turns in a row.
  MutexLock lock(&mu);
  const size_t last_b = log.rfind('b');
  ASSERT_NE(last_b, std::string::npos);
  int longest_a_run = 0;
  int run = 0;
  for (size_t i = log.find('b'); i <= last_b; ++i) {
    run = log[i] == 'a' ? run + 1 : 0;
    longest_a_run = std::max(longest_a_run, run);
  }
  EXPECT_LE(longest_a_run, 4) << log.substr(0, last_b + 1);
}

}  // namespace
}  // namespace dataloader
