// Copyright 2026 The dataloader Authors.

#include "server/pipeline/epoch_plan.h"

#include <algorithm>
#include <bit>

#include "absl/strings/str_cat.h"

namespace dataloader::server {
namespace {

// splitmix64's finalizer: a fixed, portable 64-bit mixer. The standard library's engines and
// distributions are not specified bit for bit across implementations; the order must be the
// same on every server build, so the permutation uses only this.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15u;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t SampleSeed(uint64_t seed, uint64_t epoch, int64_t sample_index) {
  return Mix(Mix(Mix(seed) ^ epoch) ^ static_cast<uint64_t>(sample_index));
}

absl::StatusOr<EpochPlan> EpochPlan::Create(const EpochPlanOptions& options) {
  auto invalid = [](auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (options.num_samples < 0)
    return invalid("num_samples must be >= 0, got ", options.num_samples);
  if (options.batch_size < 1) return invalid("batch_size must be >= 1, got ", options.batch_size);
  if (options.shard_count < 1)
    return invalid("shard_count must be >= 1, got ", options.shard_count);
  if (options.shard_index < 0 || options.shard_index >= options.shard_count) {
    return invalid("shard_index must be in [0, shard_count = ", options.shard_count, "), got ",
                   options.shard_index);
  }
  return EpochPlan(options);
}

EpochPlan::EpochPlan(const EpochPlanOptions& options) : options_(options) {
  samples_per_shard_ = options.num_samples / options.shard_count;
  batches_ = options.drop_last ? samples_per_shard_ / options.batch_size
                               : (samples_per_shard_ + options.batch_size - 1) / options.batch_size;
  const int bits = std::max(2, static_cast<int>(std::bit_width(static_cast<uint64_t>(
                                   std::max<int64_t>(options.num_samples - 1, 1)))));
  half_bits_ = (bits + 1) / 2;
  for (uint64_t round = 0; round < 4; ++round) {
    keys_[round] = Mix(Mix(options.seed) ^ Mix(options.epoch + 0x51ED270B27F3C5A3u * (round + 1)));
  }
}

int64_t EpochPlan::EpochOrderAt(int64_t position) const {
  if (!options_.shuffle) return position;
  const uint64_t mask = (uint64_t{1} << half_bits_) - 1;
  const auto n = static_cast<uint64_t>(options_.num_samples);
  uint64_t value = static_cast<uint64_t>(position);
  // Cycle walking: a bijection on [0, 2^(2*half_bits)) restricted to [0, n) by re-applying it
  // until the value lands inside; terminates because the domain is at most 4n.
  do {
    uint64_t left = value >> half_bits_;
    uint64_t right = value & mask;
    for (uint64_t key : keys_) {
      const uint64_t next = left ^ (Mix(right ^ key) & mask);
      left = right;
      right = next;
    }
    value = (left << half_bits_) | right;
  } while (value >= n);
  return static_cast<int64_t>(value);
}

int64_t EpochPlan::SampleAt(int64_t position) const {
  return EpochOrderAt(position * options_.shard_count + options_.shard_index);
}

std::vector<int64_t> EpochPlan::BatchSamples(int64_t sequence) const {
  const int64_t begin = sequence * options_.batch_size;
  const int64_t end = std::min(samples_per_shard_, begin + options_.batch_size);
  std::vector<int64_t> samples;
  samples.reserve(static_cast<size_t>(std::max<int64_t>(end - begin, 0)));
  for (int64_t position = begin; position < end; ++position) samples.push_back(SampleAt(position));
  return samples;
}

}  // namespace dataloader::server
