// Copyright 2026 The dataloader Authors.
//
// Counters a pipeline keeps per stage, and the snapshot Pipeline::Stats() returns.
#ifndef CORE_PIPELINE_STATS_H_
#define CORE_PIPELINE_STATS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace dataloader {

// Log-linear histogram of durations: 16 buckets per power of two of nanoseconds, so a
// percentile is within ~4.5% of the true value. Thread-compatible; 8 KiB.
class LatencyHistogram {
 public:
  // Records `duration` `times` times (the items of a batch share its mean time).
  void Record(absl::Duration duration, int64_t times = 1);
  // `fraction` in [0, 1]; ZeroDuration() when empty.
  absl::Duration Percentile(double fraction) const;
  absl::Duration Mean() const;
  int64_t count() const { return count_; }
  absl::Duration total() const { return total_; }
  // For exporting with coarser bounds (e.g. as a Prometheus histogram): for each of
  // `sorted_bounds` (ascending), the number of recorded durations at or below it, a bucket
  // straddling a bound counting as at or below it when its midpoint is.
  std::vector<int64_t> CumulativeCounts(const std::vector<absl::Duration>& sorted_bounds) const;

 private:
  static constexpr int kSubBuckets = 16;
  static constexpr int kBuckets = 64 * kSubBuckets;
  static int BucketOf(int64_t nanos);
  static int64_t BucketMidpoint(int bucket);

  std::array<int64_t, kBuckets> counts_{};
  int64_t count_ = 0;
  absl::Duration total_ = absl::ZeroDuration();
};

struct StageStats {
  std::string name;
  int64_t tasks_started = 0;
  int64_t tasks_succeeded = 0;
  int64_t tasks_failed = 0;
  int64_t items_in = 0;   // Inputs taken from the queue before the stage.
  int64_t items_out = 0;  // Outputs put into the queue after it (filters and fan-out differ).
  // A task is one call of the stage function (a cheap stage runs several per pool turn).
  int64_t tasks_in_flight = 0;  // Started and not finished (queued for a thread or running).
  // The concurrency in effect (an automatic one resolved); for AssembleBatches() the
  // max_open_batches in effect; 0 for nodes without either.
  int64_t concurrency = 0;
  // Input-order stages: results held (running, or finished and waiting for an earlier one or
  // for room downstream). AssembleBatches(): batches open now (see max_open_batches).
  int64_t held_results = 0;
  int64_t open_batches = 0;
  absl::Duration mean_task_time = absl::ZeroDuration();
  absl::Duration p50_task_time = absl::ZeroDuration();
  absl::Duration p99_task_time = absl::ZeroDuration();
  // The queue after this stage (for the last stage: the sink).
  int64_t queue_size = 0;
  int64_t queue_capacity = 0;
  // Every task time so far (mean and percentiles above come from it); empty for nodes that
  // run no tasks (batching).
  LatencyHistogram task_times{};
};

struct PipelineStats {
  std::vector<StageStats> stages;  // Source first, then stages in order.
  int64_t items_emitted = 0;       // Taken by the consumer.
  int64_t failures = 0;            // All stages.
  absl::Status status;             // OK while running or after a clean end.
};

}  // namespace dataloader

#endif  // CORE_PIPELINE_STATS_H_
