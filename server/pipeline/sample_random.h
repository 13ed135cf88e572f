// Copyright 2026 The dataloader Authors.
//
// SampleRandom: the random numbers of one op on one sample, drawn from the sample's seed
// (SampleSeed(seed, epoch, index)) and a per-op salt. Streams stay deterministic and
// resumable: a sample gets the same draws whatever the concurrency, the shard or the point a
// stream resumed from. SplitMix64 and the conversions below are spelled out (not <random>'s
// distributions, whose algorithms are implementation-defined) so results are the same with
// any standard library.
#ifndef SERVER_PIPELINE_SAMPLE_RANDOM_H_
#define SERVER_PIPELINE_SAMPLE_RANDOM_H_

#include <cstdint>

namespace dataloader::server {

class SampleRandom {
 public:
  SampleRandom(uint64_t sample_seed, uint64_t salt) : state_(sample_seed ^ (salt * kGamma)) {}

  uint64_t Next() {
    uint64_t z = (state_ += kGamma);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double low, double high) { return low + (high - low) * Uniform(); }
  // Uniform integer in [low, high] (inclusive); high >= low.
  int64_t UniformInt(int64_t low, int64_t high) {
    const uint64_t span = static_cast<uint64_t>(high - low) + 1;
    return low + static_cast<int64_t>(span == 0 ? Next() : Next() % span);
  }

 private:
  static constexpr uint64_t kGamma = 0x9E3779B97F4A7C15u;
  uint64_t state_;
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_SAMPLE_RANDOM_H_
