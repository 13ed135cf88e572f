// Copyright 2026 The dataloader Authors.
//
// Throughput benchmarks of the pipeline engine. Every case builds a fresh pipeline per
// iteration over the source 0..n-1, drains it through Next(), and checks that exactly n items
// came out (count and sum); any error status or mismatch is reported with SkipWithError. Times
// are wall-clock (UseRealTime) and cover the run only, from the first Next() (which starts the
// pipeline) to the last item: Build() (spawning the pool's threads) and the teardown (joining
// them) are one-off costs, excluded with PauseTiming so that the rate is the pipeline's.
//
// Each case reports items_per_second and, where an ideal rate exists, `efficiency` = measured
// rate / ideal rate (1.0 = no overhead):
//
//   BM_Pipeline_NoOp3Stage      Per-item overhead of the engine: a source, three identity sync
//                               stages (concurrency 1 each), a sink of 64, 4 pool threads.
//                               There is no work, so the rate is bounded by scheduling and
//                               hand-off costs only. Target: >= 1,000,000 items/s.
//   BM_Pipeline_AsyncSleep/64   One PipeAsync stage whose op is a 10 ms timer on the event
//                               loop, concurrency 64, only 2 pool threads: waiting ops must
//                               hold no thread. Ideal = 64 in flight / 10 ms = 6,400 items/s.
//   BM_Pipeline_SyncSleep/64    One sync stage that blocks 10 ms (absl::SleepFor), concurrency
//                               64 on 64 pool threads. Ideal = 64 / 10 ms = 6,400 items/s.
//   BM_Pipeline_Cpu/2           One sync stage doing ~1 ms of CPU work (a hash loop calibrated
//                               at startup), concurrency 2 on 2 pool threads. Ideal = the rate
//                               of 2 plain std::threads running the same work units back to
//                               back, measured in every iteration (outside the timed part), and
//                               reported as `ideal_items_per_second`. On a 2-core machine the
//                               source, sink and event loop compete with the stage for cores.
//   BM_Pipeline_SkewedExact/16  Exact batches when task times are skewed: 16 pool threads, one
//                               sync stage whose tasks sleep (so that 2 cores do not limit it)
//                               1 ms for 9 items in 10 and 10 ms for every 10th, batches of 64
//                               assembled by position (AssembleBatches), the stage in
//                               completion order with automatic concurrency. Ideal = total
//                               sleep / 16 threads. Target: efficiency >= 0.9.
//   BM_Pipeline_SkewedExactConcurrency16/16
//                               The same with concurrency 16 exactly: no over-provisioning is
//                               needed. Target: efficiency >= 0.9.
//   BM_Pipeline_SkewedInputOrder/16
//                               The same stage in input order (reorder window automatic),
//                               then Aggregate(64): what per-stage ordering costs. Reported.
//                               The Skewed cases also report `plain_threads_efficiency`: 16
//                               plain std::threads sleeping the same pattern off one counter,
//                               with no ordering at all (what the OS's sleep granularity and
//                               the machine's load allow), measured once per case.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "core/pipeline_builder.h"
#include "core/runtime.h"

namespace {

using dataloader::AssembledBatch;
using dataloader::Completion;
using dataloader::kAutomatic;
using dataloader::OutputOrder;
using dataloader::Pipeline;
using dataloader::PipelineBuilder;
using dataloader::TaskContext;

using PipelineOr = absl::StatusOr<std::unique_ptr<Pipeline<int>>>;

constexpr absl::Duration kSleep = absl::Milliseconds(10);
// Sleep cases: each of the `concurrency` slots sleeps this many times per iteration.
constexpr int kRounds = 50;

// Takes every item of `pipeline` and checks that they are exactly 0..n-1 in some order (by
// count and sum). Returns the error that ended the pipeline, or Internal on a mismatch.
absl::Status DrainAndCheck(Pipeline<int>& pipeline, int n) {
  int64_t count = 0;
  int64_t sum = 0;
  while (true) {
    absl::StatusOr<int> item = pipeline.Next();
    if (absl::IsOutOfRange(item.status())) break;  // The clean end.
    if (!item.ok()) return item.status();
    ++count;
    sum += *item;
  }
  const int64_t expected_sum = int64_t{n} * (n - 1) / 2;
  if (count != n || sum != expected_sum) {
    return absl::InternalError(absl::StrCat("expected ", n, " items summing to ", expected_sum,
                                            ", got ", count, " summing to ", sum));
  }
  return absl::OkStatus();
}

// Drains the built pipeline, checks it and destroys it (joining its threads). Returns false
// after calling SkipWithError on a build error, a pipeline error or a wrong item count.
// Builds a pipeline with `build`, then drains it, checking its items. Only the run is timed
// (from the first Next(), which starts the pipeline, to the end): building (spawning the
// pool's threads) and tearing down (joining them) are one-off costs outside the item rate.
// Adds the run's wall time to `elapsed`. Returns false after SkipWithError on any failure.
template <typename BuildFn>
bool TimedRun(benchmark::State& state, BuildFn build, int n, absl::Duration& elapsed) {
  state.PauseTiming();
  PipelineOr pipeline = build();
  if (!pipeline.ok()) {
    state.SkipWithError(absl::StrCat("Build: ", pipeline.status().ToString()).c_str());
    state.ResumeTiming();
    return false;
  }
  state.ResumeTiming();
  const absl::Time start = absl::Now();
  absl::Status status = DrainAndCheck(**pipeline, n);
  elapsed += absl::Now() - start;
  state.PauseTiming();
  pipeline->reset();
  state.ResumeTiming();
  if (!status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return false;
  }
  return true;
}

// Sets items_per_second and, if `ideal_rate` > 0, efficiency = rate over `elapsed` / ideal.
// `elapsed` is the wall time of the timed parts, measured alongside the framework's timer.
void Report(benchmark::State& state, int items_per_iteration, absl::Duration elapsed,
            double ideal_rate) {
  const int64_t items = static_cast<int64_t>(state.iterations()) * items_per_iteration;
  state.SetItemsProcessed(items);
  if (state.error_occurred() || ideal_rate <= 0 || elapsed <= absl::ZeroDuration()) return;
  const double rate = static_cast<double>(items) / absl::ToDoubleSeconds(elapsed);
  state.counters["efficiency"] = benchmark::Counter(rate / ideal_rate);
}

void BM_Pipeline_NoOp3Stage(benchmark::State& state) {
  constexpr int kItems = 200'000;
  auto identity = [](int x) { return x; };
  absl::Duration elapsed;
  for (auto _ : state) {
    auto build = [&] {
      return PipelineBuilder<>()
          .AddSource(std::views::iota(0, kItems))
          .Pipe(identity, {.concurrency = 1, .name = "noop1"})
          .Pipe(identity, {.concurrency = 1, .name = "noop2"})
          .Pipe(identity, {.concurrency = 1, .name = "noop3"})
          .AddSink(64)
          .Build({.num_threads = 4});
    };
    if (!TimedRun(state, build, kItems, elapsed)) break;
  }
  Report(state, kItems, elapsed, /*ideal_rate=*/0);
}
BENCHMARK(BM_Pipeline_NoOp3Stage)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_Pipeline_AsyncSleep(benchmark::State& state) {
  const int concurrency = static_cast<int>(state.range(0));
  const int items = concurrency * kRounds;
  const double ideal_rate = concurrency / absl::ToDoubleSeconds(kSleep);
  absl::Duration elapsed;
  for (auto _ : state) {
    auto build = [&] {
      return PipelineBuilder<>()
          .AddSource(std::views::iota(0, items))
          .PipeAsync(
              [](int x, Completion<int> done, const TaskContext& context) {
                context.loop().RunAfter(kSleep, [x, done = std::move(done)]() mutable { done(x); });
              },
              {.concurrency = concurrency, .name = "async_sleep"})
          .AddSink(64)
          .Build({.num_threads = 2});
    };
    if (!TimedRun(state, build, items, elapsed)) break;
  }
  Report(state, items, elapsed, ideal_rate);
}
BENCHMARK(BM_Pipeline_AsyncSleep)
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);

void BM_Pipeline_SyncSleep(benchmark::State& state) {
  const int concurrency = static_cast<int>(state.range(0));
  const int items = concurrency * kRounds;
  const double ideal_rate = concurrency / absl::ToDoubleSeconds(kSleep);
  absl::Duration elapsed;
  for (auto _ : state) {
    auto build = [&] {
      return PipelineBuilder<>()
          .AddSource(std::views::iota(0, items))
          .Pipe(
              [](int x) {
                absl::SleepFor(kSleep);
                return x;
              },
              {.concurrency = concurrency, .name = "sync_sleep"})
          .AddSink(64)
          .Build({.num_threads = concurrency});
    };
    if (!TimedRun(state, build, items, elapsed)) break;
  }
  Report(state, items, elapsed, ideal_rate);
}
BENCHMARK(BM_Pipeline_SyncSleep)
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);

// One unit of CPU work: `rounds` dependent rounds of a 64-bit mixing function (the splitmix64
// finalizer), which the compiler can neither vectorize nor fold.
uint64_t Work(uint64_t seed, int64_t rounds) {
  uint64_t x = seed + 0x9E3779B97F4A7C15u;
  for (int64_t i = 0; i < rounds; ++i) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9u;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBu;
    x ^= x >> 31;
  }
  return x;
}

void DoWork(uint64_t seed, int64_t rounds) {
  uint64_t result = Work(seed, rounds);
  benchmark::DoNotOptimize(result);
}

// The rounds of Work() that take about 1 ms on one thread, measured once: best of 10 probes,
// after ~100 ms of spinning so that the probes see the clock rate of a busy core (they follow
// benchmarks that mostly sleep).
int64_t RoundsPerMillisecond() {
  static const int64_t rounds = [] {
    constexpr int64_t kProbeRounds = 200'000;
    const absl::Time warm_until = absl::Now() + absl::Milliseconds(100);
    for (uint64_t i = 0; absl::Now() < warm_until; ++i) DoWork(i, kProbeRounds);
    absl::Duration best = absl::InfiniteDuration();
    for (int i = 0; i < 10; ++i) {
      const absl::Time start = absl::Now();
      DoWork(static_cast<uint64_t>(i), kProbeRounds);
      best = std::min(best, absl::Now() - start);
    }
    const double per_ms = kProbeRounds * absl::FDivDuration(absl::Milliseconds(1), best);
    return std::max<int64_t>(1, static_cast<int64_t>(per_ms));
  }();
  return rounds;
}

// Runs work units 0..units-1 on `threads` plain std::threads (unit i on thread i % threads),
// each thread back to back; returns the wall time, thread start and join included.
absl::Duration RunOnPlainThreads(int threads, int units, int64_t rounds) {
  const absl::Time start = absl::Now();
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([t, threads, units, rounds] {
      for (int i = t; i < units; i += threads) DoWork(static_cast<uint64_t>(i), rounds);
    });
  }
  for (std::thread& worker : workers) worker.join();
  return absl::Now() - start;
}

void BM_Pipeline_Cpu(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int items = 200 * threads;  // ~200 ms of work per iteration at the ideal rate.
  const int64_t rounds = RoundsPerMillisecond();
  absl::Duration elapsed;
  absl::Duration ideal_elapsed;
  for (auto _ : state) {
    state.PauseTiming();
    ideal_elapsed += RunOnPlainThreads(threads, items, rounds);
    state.ResumeTiming();

    auto build = [&] {
      return PipelineBuilder<>()
          .AddSource(std::views::iota(0, items))
          .Pipe(
              [rounds](int x) {
                DoWork(static_cast<uint64_t>(x), rounds);
                return x;
              },
              {.concurrency = threads, .name = "cpu"})
          .AddSink(64)
          .Build({.num_threads = threads});
    };
    if (!TimedRun(state, build, items, elapsed)) break;
  }
  if (state.error_occurred() || ideal_elapsed <= absl::ZeroDuration()) {
    Report(state, items, elapsed, /*ideal_rate=*/0);
    return;
  }
  const double ideal_rate =
      static_cast<double>(state.iterations()) * items / absl::ToDoubleSeconds(ideal_elapsed);
  state.counters["ideal_items_per_second"] = benchmark::Counter(ideal_rate);
  Report(state, items, elapsed, ideal_rate);
}
BENCHMARK(BM_Pipeline_Cpu)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(5);

// The skewed stage: item i sleeps 10 ms if i % 10 == 9, else 1 ms.
constexpr int kSkewBatch = 64;
constexpr int kSkewBatches = 40;
absl::Duration SkewedSleep(int i) {
  return i % 10 == 9 ? absl::Milliseconds(10) : absl::Milliseconds(1);
}
int SkewedStage(int i) {
  absl::SleepFor(SkewedSleep(i));
  return i;
}

// Takes every batch and checks batch k holds exactly items 64k .. 64k+63 in order.
template <typename Batch, typename ItemsOf>
absl::Status DrainBatchesAndCheck(Pipeline<Batch>& pipeline, int n, ItemsOf items_of) {
  int next = 0;
  while (true) {
    absl::StatusOr<Batch> batch = pipeline.Next();
    if (absl::IsOutOfRange(batch.status())) break;
    if (!batch.ok()) return batch.status();
    for (int item : items_of(*batch)) {
      if (item != next) return absl::InternalError(absl::StrCat("expected ", next, ", got ", item));
      ++next;
    }
  }
  if (next != n) return absl::InternalError(absl::StrCat("expected ", n, " items, got ", next));
  return absl::OkStatus();
}

// The skewed items on `threads` plain threads taking them off one counter: no ordering, no
// engine. Returns the wall time.
absl::Duration PlainSkewed(int threads, int items) {
  std::atomic<int> next{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = next++; i < items; i = next++) SkewedStage(i);
    });
  }
  for (std::thread& worker : workers) worker.join();
  return absl::Now() - start;
}

// Runs the skewed case: `assemble` (completion order + AssembleBatches) or input order +
// Aggregate, with the stage's `concurrency` (0 = automatic) on `threads` threads.
void RunSkewed(benchmark::State& state, bool assemble, int concurrency) {
  const int threads = static_cast<int>(state.range(0));
  const int items = kSkewBatch * kSkewBatches;
  absl::Duration total_sleep;
  for (int i = 0; i < items; ++i) total_sleep += SkewedSleep(i);
  const double ideal_rate = items / absl::ToDoubleSeconds(total_sleep / threads);
  absl::Duration elapsed;
  for (auto _ : state) {
    state.PauseTiming();
    absl::Status status;
    absl::Time start;
    if (assemble) {
      auto pipeline = PipelineBuilder<>()
                          .AddSource(std::views::iota(0, items))
                          .Pipe(SkewedStage, {.concurrency = concurrency, .name = "skewed"})
                          .AssembleBatches(kSkewBatch)
                          .AddSink(4)
                          .Build({.num_threads = threads});
      if (!pipeline.ok()) status = pipeline.status();
      state.ResumeTiming();
      start = absl::Now();
      if (status.ok()) {
        status = DrainBatchesAndCheck(**pipeline, items,
                                      [](const AssembledBatch<int>& b) { return b.items; });
      }
      elapsed += absl::Now() - start;
      state.PauseTiming();
    } else {
      auto pipeline = PipelineBuilder<>()
                          .AddSource(std::views::iota(0, items))
                          .Pipe(SkewedStage, {.concurrency = concurrency,
                                              .name = "skewed",
                                              .output_order = OutputOrder::kInput})
                          .Aggregate(kSkewBatch)
                          .AddSink(4)
                          .Build({.num_threads = threads});
      if (!pipeline.ok()) status = pipeline.status();
      state.ResumeTiming();
      start = absl::Now();
      if (status.ok()) {
        status =
            DrainBatchesAndCheck(**pipeline, items, [](const std::vector<int>& b) { return b; });
      }
      elapsed += absl::Now() - start;
      state.PauseTiming();
    }
    state.ResumeTiming();
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
  Report(state, items, elapsed, ideal_rate);
  if (!state.error_occurred()) {
    state.counters["plain_threads_efficiency"] =
        benchmark::Counter(absl::FDivDuration(total_sleep / threads, PlainSkewed(threads, items)));
  }
}

void BM_Pipeline_SkewedExact(benchmark::State& state) { RunSkewed(state, true, kAutomatic); }
BENCHMARK(BM_Pipeline_SkewedExact)
    ->Arg(16)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

void BM_Pipeline_SkewedExactConcurrency16(benchmark::State& state) { RunSkewed(state, true, 16); }
BENCHMARK(BM_Pipeline_SkewedExactConcurrency16)
    ->Arg(16)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

void BM_Pipeline_SkewedInputOrder(benchmark::State& state) { RunSkewed(state, false, kAutomatic); }
BENCHMARK(BM_Pipeline_SkewedInputOrder)
    ->Arg(16)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace

// How long Stop() takes on a busy pipeline: two stages of 50 us tasks (concurrency 4 on 4
// threads) and a full sink, so tasks are running and upstream stages are blocked on room. Only
// Stop() is timed; the per-iteration time is the stop latency. Target: well under 100 ms.
void BM_Pipeline_StopLatency(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    auto work = [](int x) {
      absl::SleepFor(absl::Microseconds(50));
      return x;
    };
    PipelineOr pipeline = PipelineBuilder<>()
                              .AddSource(std::views::iota(0, 1 << 30))
                              .Pipe(work, {.concurrency = 4, .name = "a"})
                              .Pipe(work, {.concurrency = 4, .name = "b"})
                              .AddSink(4)
                              .Build({.num_threads = 4});
    if (!pipeline.ok()) {
      state.SkipWithError(pipeline.status().ToString().c_str());
      break;
    }
    (*pipeline)->Start();
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while ((*pipeline)->Stats().stages.back().queue_size < 4 && absl::Now() < give_up) {
      absl::SleepFor(absl::Microseconds(100));
    }
    state.ResumeTiming();
    const absl::Status stopped = (*pipeline)->Stop();
    state.PauseTiming();
    if (!absl::IsCancelled(stopped)) state.SkipWithError(stopped.ToString().c_str());
    pipeline->reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_Pipeline_StopLatency)->UseRealTime()->Unit(benchmark::kMicrosecond)->Iterations(20);

int main(int argc, char** argv) {
  dataloader::DisableMutexDeadlockDetection();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
