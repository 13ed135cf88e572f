// Copyright 2026 The dataloader Authors.
//
// EpochPlan: which samples one shard of one epoch gets, in which order, in which batches.
//
// The order is a function of (seed, epoch) only: position p of the epoch's order holds sample
// Permute(p), a keyed pseudo-random permutation of [0, num_samples) (identity without
// shuffle). Shard k of n takes positions k, k+n, k+2n, ... so the shards of an epoch are
// disjoint and together cover every sample exactly once, except for the remainder:
//
//   Remainder policy: every shard gets floor(num_samples / n) samples. The num_samples % n
//   samples at the last positions of the epoch's order are not served that epoch (with
//   shuffle they are different samples each epoch). Equal sample counts give every shard the
//   same number of batches (step parity: distributed trainers deadlock otherwise).
//
// Any batch can be located without computing the ones before it (O(1) memory and time per
// sample), which is what lets a stream resume at batch k without recomputing the skipped part.
//
//   absl::StatusOr<EpochPlan> plan = EpochPlan::Create({.num_samples = 1000, .batch_size = 32,
//       .shuffle = true, .seed = 7, .epoch = 0, .shard_index = 1, .shard_count = 4});
//   for (int64_t b = 0; b < plan->batches(); ++b) Load(plan->BatchSamples(b));
//
// Thread-compatible; immutable after Create().
#ifndef SERVER_PIPELINE_EPOCH_PLAN_H_
#define SERVER_PIPELINE_EPOCH_PLAN_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace dataloader::server {

struct EpochPlanOptions {
  int64_t num_samples = 0;  // In the dataset; >= 0.
  int64_t batch_size = 1;   // >= 1.
  // Drop a last batch smaller than batch_size (every shard drops the same).
  bool drop_last = false;
  bool shuffle = false;
  uint64_t seed = 0;
  uint64_t epoch = 0;
  int64_t shard_index = 0;  // 0 <= shard_index < shard_count.
  int64_t shard_count = 1;  // >= 1.
};

class EpochPlan {
 public:
  // InvalidArgument naming the field and value if an option is out of range.
  static absl::StatusOr<EpochPlan> Create(const EpochPlanOptions& options);

  int64_t samples() const { return samples_per_shard_; }  // In this shard.
  int64_t batches() const { return batches_; }            // Same for every shard.
  // The dataset index of the sample at `position` (0 <= position < samples()) of this shard.
  int64_t SampleAt(int64_t position) const;
  // The dataset indices of batch `sequence` (0 <= sequence < batches()), in order.
  std::vector<int64_t> BatchSamples(int64_t sequence) const;
  // Position `position` of the whole epoch's order (before sharding).
  int64_t EpochOrderAt(int64_t position) const;

 private:
  explicit EpochPlan(const EpochPlanOptions& options);

  EpochPlanOptions options_;
  int64_t samples_per_shard_ = 0;
  int64_t batches_ = 0;
  // Feistel network over the smallest even-bit-width domain that holds num_samples; values
  // outside [0, num_samples) are walked again (cycle walking), which keeps it a bijection.
  int half_bits_ = 0;
  uint64_t keys_[4] = {};
};

// The seed for per-sample randomness (augmentation): a function of (seed, epoch, sample), so
// a sample is augmented the same way whichever shard, stream or server processes it.
uint64_t SampleSeed(uint64_t seed, uint64_t epoch, int64_t sample_index);

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_EPOCH_PLAN_H_
