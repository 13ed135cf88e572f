// Copyright 2026 The dataloader Authors.

#include "server/io/retry_policy.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace dataloader::server::io {

absl::Status RetryPolicy::Validate() const {
  if (max_attempts < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry max_attempts must be >= 1, got ", max_attempts));
  }
  if (initial_backoff <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("retry initial_backoff must be > 0, got ",
                                                   absl::FormatDuration(initial_backoff)));
  }
  if (max_backoff < initial_backoff) {
    return absl::InvalidArgumentError(absl::StrCat("retry max_backoff must be >= initial_backoff (",
                                                   absl::FormatDuration(initial_backoff), "), got ",
                                                   absl::FormatDuration(max_backoff)));
  }
  if (!(multiplier >= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry multiplier must be >= 1, got ", multiplier));
  }
  return absl::OkStatus();
}

absl::Duration RetryPolicy::Backoff(int attempt, uint64_t random_bits) const {
  // Computed in seconds as a double: multiplier^attempt overflows no integer, and the cap
  // applies before the duration is built.
  const double exponent = std::max(0, attempt - 1);
  const double full = std::min(
      absl::ToDoubleSeconds(max_backoff),
      absl::ToDoubleSeconds(initial_backoff) * std::pow(multiplier, std::min(exponent, 64.0)));
  const double unit = static_cast<double>(random_bits >> 11) * 0x1.0p-53;  // [0, 1)
  return absl::Seconds(full / 2 + unit * full / 2);
}

absl::Duration RetryPolicy::BackoffWithHint(int attempt, uint64_t random_bits,
                                            absl::Duration retry_after) const {
  return std::min(max_backoff, std::max(Backoff(attempt, random_bits), retry_after));
}

bool IsRetryableHttpStatus(int status) {
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

}  // namespace dataloader::server::io
