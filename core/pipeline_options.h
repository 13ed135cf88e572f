// Copyright 2026 The dataloader Authors.
//
// Options for building a pipeline. Plain structs meant for designated initializers:
//
//   .Pipe(Decode, {.concurrency = 4, .name = "decode", .max_failures = 10})
//   .Aggregate(32, {.drop_last = true})
//   .Build({.num_threads = 4})
//
// Values are validated once, by PipelineBuilder::Build(), which returns InvalidArgument naming
// the stage and the bad value.
#ifndef CORE_PIPELINE_OPTIONS_H_
#define CORE_PIPELINE_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace dataloader {

class Runtime;
struct PipelineStats;

// Failure budgets use this to mean "no limit".
inline constexpr int64_t kUnlimitedFailures = -1;

// Concurrency and the sizes below accept 0 to mean "chosen by the engine" where documented.
inline constexpr int kAutomatic = 0;

// The largest values Build() accepts (InvalidArgument above them, naming the value and the
// limit): far above anything useful, low enough that a typo such as concurrency 2000000000
// fails clearly instead of exhausting memory. Channels grow with use, so a large legal value
// costs memory only when items fill it.
inline constexpr int kMaxConcurrency = 1 << 16;  // StageOptions concurrency, reorder_window
inline constexpr int kMaxBufferSize = 1 << 20;   // AddSink() buffer_size
inline constexpr int kMaxBatchSize = 1 << 20;    // Aggregate() and AssembleBatches() size
inline constexpr int kMaxOpenBatches = 1 << 10;  // AssembleOptions::max_open_batches
inline constexpr int kMaxThreads = 1 << 12;      // BuildOptions / RuntimeOptions num_threads

enum class OutputOrder {
  // Results leave the stage as soon as they are done: fast items pass slow ones. A finished
  // result keeps its slot only until there is room for it downstream.
  kCompletion,
  // Results leave in the order their inputs arrived. A finished result does not keep its run
  // slot: it waits for the earlier ones in the stage's reorder window while other tasks start
  // (see StageOptions::reorder_window). For whole batches in order with completion-order
  // stages, use AssembleBatches() instead: it waits with memory, never with a thread.
  kInput,
};

struct StageOptions {
  // How many tasks of this stage may run at once. Synchronous tasks also need a pool thread:
  // with concurrency above the pool size, the extra tasks wait for a thread. 0 (kAutomatic)
  // lets the engine choose: a synchronous stage gets one task per pool thread, which keeps
  // every thread busy (a finished task frees its slot at once, in either order); an
  // asynchronous stage, which holds no thread while it waits, gets max(16, 4 x pool threads).
  // Explicit values: 1 to kMaxConcurrency. Default 1 (as SPDL).
  int concurrency = 1;
  // Names the stage in stats and errors. Default: "pipe<i>" / "pipe_async<i>" by position.
  std::string name{};
  OutputOrder output_order = OutputOrder::kCompletion;
  // Input order only: how far finished results may run ahead of the oldest unfinished one.
  // A task starts while fewer than `concurrency` run and the span of tasks from the oldest
  // result not yet passed on to the newest started is below concurrency + reorder_window, so
  // the stage holds at most concurrency + reorder_window results. 0 (the default) means equal
  // to the concurrency. Larger values let more work go on past one slow item, at the cost of
  // memory. Explicit values: 1 to kMaxConcurrency.
  int reorder_window = kAutomatic;
  // Items of this stage that may fail (error status or exception) before the pipeline ends
  // with an error naming the stage. Failed items are dropped and counted. Default: unlimited,
  // as in SPDL; the pipeline-wide budget in BuildOptions still applies.
  int64_t max_failures = kUnlimitedFailures;
};

struct SourceOptions {
  // Names the source in stats and errors. Default "source".
  std::string name{};
};

struct AggregateOptions {
  // Drop a final batch that has fewer than `n` items instead of emitting it. Default false.
  bool drop_last = false;
};

struct AssembleOptions {
  // Batches being assembled at once: the source issues an item only when its batch is among
  // the `max_open_batches` oldest not yet passed on, so the assembler holds at most
  // max_open_batches x size items however slow one item is, and every stage before it can run
  // in completion order. More open batches keep threads busy past a longer stall; each costs
  // up to `size` items of memory. 0 (the default) lets the engine choose
  // 1 + ceil(8 x pool threads / size), at least 2: eight items per thread beyond the oldest
  // batch. Explicit values: 1 to kMaxOpenBatches.
  int max_open_batches = kAutomatic;
  // Drop a final batch that has fewer than `size` positions (the source ended mid-batch)
  // instead of passing it on. Default false.
  bool drop_last = false;
};

struct BuildOptions {
  // Threads of the pipeline's own pool: how many synchronous stage calls can run at once.
  // 0 means one per core; at most kMaxThreads. Must be 0 when `runtime` is set.
  int num_threads = 0;
  // Run on a shared runtime (pool and loop) instead of owning one; not owned, must outlive the
  // pipeline. Pipelines on one runtime take fair turns on its threads.
  Runtime* runtime = nullptr;
  // Failures of all stages together that may occur before the pipeline ends with an error.
  // Default: unlimited.
  int64_t max_failures = kUnlimitedFailures;
  // If set, called on the event loop every `stats_interval` with a snapshot of the stats.
  // Must not block. `stats_interval` must then be > 0.
  absl::AnyInvocable<void(const PipelineStats&)> stats_callback{};
  absl::Duration stats_interval = absl::ZeroDuration();
};

}  // namespace dataloader

#endif  // CORE_PIPELINE_OPTIONS_H_
