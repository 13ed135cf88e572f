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

enum class OutputOrder {
  // Results leave the stage as soon as they are done: fast items pass slow ones.
  kCompletion,
  // Results leave in the order their inputs arrived. A finished result waits, holding its
  // concurrency slot, until every earlier one has left: the stage never runs more than
  // `concurrency` tasks, but a slow item idles the slots behind it.
  kInput,
};

struct StageOptions {
  // How many tasks of this stage may be scheduled at once (running, or done and waiting to be
  // passed on). Synchronous tasks also need a pool thread to run: with concurrency above the
  // pool size, the extra tasks wait for a thread. Must be >= 1. Default 1.
  int concurrency = 1;
  // Names the stage in stats and errors. Default: "pipe<i>" / "pipe_async<i>" by position.
  std::string name{};
  OutputOrder output_order = OutputOrder::kCompletion;
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

struct BuildOptions {
  // Threads of the pipeline's own pool: how many synchronous stage calls can run at once.
  // 0 means one per core. Must be 0 when `runtime` is set.
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
