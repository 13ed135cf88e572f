// Copyright 2026 The dataloader Authors.

#include "core/pipeline_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace dataloader {

int LatencyHistogram::BucketOf(int64_t nanos) {
  if (nanos < kSubBuckets) return static_cast<int>(std::max<int64_t>(nanos, 0));
  const int exponent = std::bit_width(static_cast<uint64_t>(nanos)) - 1;  // >= 4
  const int shift = exponent - 4;                                         // log2(kSubBuckets)
  const int sub = static_cast<int>((nanos >> shift) - kSubBuckets);       // 0..15
  return std::min(kBuckets - 1, (shift + 1) * kSubBuckets + sub);
}

int64_t LatencyHistogram::BucketMidpoint(int bucket) {
  if (bucket < kSubBuckets) return bucket;
  const int shift = bucket / kSubBuckets - 1;
  const int64_t low = static_cast<int64_t>(kSubBuckets + bucket % kSubBuckets) << shift;
  return low + ((int64_t{1} << shift) >> 1);
}

void LatencyHistogram::Record(absl::Duration duration, int64_t times) {
  counts_[BucketOf(absl::ToInt64Nanoseconds(duration))] += times;
  count_ += times;
  total_ += duration * times;
}

absl::Duration LatencyHistogram::Percentile(double fraction) const {
  if (count_ == 0) return absl::ZeroDuration();
  const auto rank = static_cast<int64_t>(std::ceil(std::clamp(fraction, 0.0, 1.0) * count_));
  int64_t seen = 0;
  for (int bucket = 0; bucket < kBuckets; ++bucket) {
    seen += counts_[bucket];
    if (seen >= std::max<int64_t>(rank, 1)) return absl::Nanoseconds(BucketMidpoint(bucket));
  }
  return absl::Nanoseconds(BucketMidpoint(kBuckets - 1));
}

std::vector<int64_t> LatencyHistogram::CumulativeCounts(
    const std::vector<absl::Duration>& sorted_bounds) const {
  std::vector<int64_t> cumulative(sorted_bounds.size(), 0);
  size_t next = 0;  // The first bound the current bucket may still be counted under.
  int64_t seen = 0;
  for (int bucket = 0; bucket < kBuckets && next < sorted_bounds.size(); ++bucket) {
    const int64_t midpoint = BucketMidpoint(bucket);
    while (next < sorted_bounds.size() &&
           absl::ToInt64Nanoseconds(sorted_bounds[next]) < midpoint) {
      cumulative[next++] = seen;
    }
    seen += counts_[bucket];
  }
  for (; next < sorted_bounds.size(); ++next) cumulative[next] = seen;
  return cumulative;
}

absl::Duration LatencyHistogram::Mean() const {
  return count_ == 0 ? absl::ZeroDuration() : total_ / count_;
}

}  // namespace dataloader
