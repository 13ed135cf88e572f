// Copyright 2026 The dataloader Authors.

#include "server/io/retry_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dataloader::server::io {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kLowest = 0;              // Jitter at its lowest: half the backoff.
constexpr uint64_t kHighest = ~uint64_t{0};  // Just under the full backoff.

TEST(RetryPolicyTest, BackoffGrowsExponentiallyWithinHalfToFull) {
  const RetryPolicy policy{
      .initial_backoff = absl::Milliseconds(100), .max_backoff = absl::Seconds(5), .multiplier = 2};
  EXPECT_EQ(policy.Backoff(1, kLowest), absl::Milliseconds(50));
  EXPECT_EQ(policy.Backoff(2, kLowest), absl::Milliseconds(100));
  EXPECT_EQ(policy.Backoff(3, kLowest), absl::Milliseconds(200));
  EXPECT_GT(policy.Backoff(3, kHighest), absl::Milliseconds(399));
  EXPECT_LE(policy.Backoff(3, kHighest), absl::Milliseconds(400));
}

TEST(RetryPolicyTest, BackoffIsCappedAndNeverOverflows) {
  const RetryPolicy policy{.initial_backoff = absl::Milliseconds(100),
                           .max_backoff = absl::Seconds(1)};
  EXPECT_EQ(policy.Backoff(10, kLowest), absl::Milliseconds(500));
  EXPECT_LE(policy.Backoff(10000, kHighest), absl::Seconds(1));
}

TEST(RetryPolicyTest, JitterSpreadsRetries) {
  const RetryPolicy policy;
  EXPECT_NE(policy.Backoff(2, 0x1234567890ABCDEFu), policy.Backoff(2, 0xFEDCBA0987654321u));
}

TEST(RetryPolicyTest, RetryAfterHintIsHonouredUpToTheCap) {
  const RetryPolicy policy{.initial_backoff = absl::Milliseconds(100),
                           .max_backoff = absl::Seconds(2)};
  EXPECT_EQ(policy.BackoffWithHint(1, kLowest, absl::Seconds(1)), absl::Seconds(1));
  EXPECT_EQ(policy.BackoffWithHint(1, kLowest, absl::Seconds(60)), absl::Seconds(2));
  EXPECT_EQ(policy.BackoffWithHint(1, kLowest, absl::ZeroDuration()), absl::Milliseconds(50));
}

TEST(RetryPolicyTest, ValidateNamesTheBadField) {
  EXPECT_THAT(RetryPolicy{.max_attempts = 0}.Validate().message(), HasSubstr("max_attempts"));
  EXPECT_THAT(RetryPolicy{.initial_backoff = absl::ZeroDuration()}.Validate().message(),
              HasSubstr("initial_backoff"));
  EXPECT_THAT((RetryPolicy{.initial_backoff = absl::Seconds(2), .max_backoff = absl::Seconds(1)})
                  .Validate()
                  .message(),
              HasSubstr("max_backoff"));
  EXPECT_THAT(RetryPolicy{.multiplier = 0.5}.Validate().message(), HasSubstr("multiplier"));
  EXPECT_TRUE(RetryPolicy{}.Validate().ok());
}

TEST(RetryPolicyTest, RetryableStatuses) {
  for (int status : {408, 429, 500, 502, 503, 504}) EXPECT_TRUE(IsRetryableHttpStatus(status));
  for (int status : {200, 206, 301, 400, 401, 403, 404, 416}) {
    EXPECT_FALSE(IsRetryableHttpStatus(status)) << status;
  }
}

}  // namespace
}  // namespace dataloader::server::io
