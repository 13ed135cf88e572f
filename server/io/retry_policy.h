// Copyright 2026 The dataloader Authors.
//
// RetryPolicy: how many times a remote request is tried and how long to wait in between.
// Exponential backoff with "equal jitter": attempt k (1-based) failed, the wait before attempt
// k + 1 is uniform in [d/2, d] with d = min(max_backoff, initial_backoff * multiplier^(k-1)),
// so retries of many requests that failed together spread out instead of arriving at once.
//
//   RetryPolicy policy{.max_attempts = 5};
//   if (attempt < policy.max_attempts && IsRetryableHttpStatus(503)) {
//     absl::Duration wait = policy.Backoff(attempt, random_bits);
//   }
//
// A plain struct: thread-compatible.
#ifndef SERVER_IO_RETRY_POLICY_H_
#define SERVER_IO_RETRY_POLICY_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace dataloader::server::io {

struct RetryPolicy {
  // Tries per request, the first included: 1 never retries. Must be >= 1. Default 5 (with the
  // default backoff a request gives up after about 0.8-1.5 s of waiting in total).
  int max_attempts = 5;
  // Wait before the first retry (before jitter). Must be > 0. Default 100 ms.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  // Cap on any one wait, and on a server's Retry-After. Must be >= initial_backoff.
  // Default 5 s.
  absl::Duration max_backoff = absl::Seconds(5);
  // Growth of the wait per attempt. Must be >= 1. Default 2.
  double multiplier = 2.0;

  // InvalidArgument naming the field.
  absl::Status Validate() const;
  // The wait after failed attempt `attempt` (1-based). `random_bits`: any 64 random bits, for
  // the jitter (so callers choose their generator and tests can fix it).
  absl::Duration Backoff(int attempt, uint64_t random_bits) const;
  // The wait when the server asked for `retry_after` (Retry-After on 429/503): the larger of
  // that and the backoff, capped at max_backoff.
  absl::Duration BackoffWithHint(int attempt, uint64_t random_bits,
                                 absl::Duration retry_after) const;
};

// HTTP statuses worth retrying: 408 (request timeout), 429 (too many requests) and every
// 5xx (the store is overloaded or restarting). Other statuses are answers, not accidents.
bool IsRetryableHttpStatus(int status);

}  // namespace dataloader::server::io

#endif  // SERVER_IO_RETRY_POLICY_H_
