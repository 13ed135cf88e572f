// Copyright 2026 The dataloader Authors.
//
// Small helpers shared by the core tests. Everything here is visible to ThreadSanitizer
// (std::atomic and dataloader::Mutex), unlike Debian's uninstrumented absl::Notification.
#ifndef TESTS_CORE_TEST_UTIL_H_
#define TESTS_CORE_TEST_UTIL_H_

#include <atomic>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/mutex.h"
#include "core/pipeline.h"

namespace dataloader::testing {

// Polls `done` until it holds or `timeout` passes; for conditions no latch can signal (state
// inside the engine, seen through Stats()). Returns whether `done` held.
inline bool WaitUntil(const std::function<bool()>& done,
                      absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Microseconds(200));
  }
  return true;
}

// A one-shot event: Notify() once, Wait() from anywhere.
class Event {
 public:
  void Notify() {
    MutexLock lock(&mu_);
    notified_ = true;
  }
  bool HasBeenNotified() const {
    MutexLock lock(&mu_);
    return notified_;
  }
  // Returns whether it was notified within `timeout` (tests never wait forever).
  bool Wait(absl::Duration timeout = absl::Seconds(10)) const {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&notified_), timeout);
  }

 private:
  mutable Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

// Counts calls running at once and remembers the peak.
class PeakCounter {
 public:
  void Enter() {
    const int now = ++running_;
    int peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
  }
  void Exit() { --running_; }
  int running() const { return running_.load(); }
  int peak() const { return peak_.load(); }

 private:
  std::atomic<int> running_{0};
  std::atomic<int> peak_{0};
};

// Drains `pipeline` to its end; returns the items and the end status (OutOfRange if clean).
template <typename T>
std::pair<std::vector<T>, absl::Status> Drain(Pipeline<T>& pipeline,
                                              absl::Duration per_item = absl::Seconds(20)) {
  std::vector<T> items;
  while (true) {
    absl::StatusOr<T> item = pipeline.GetItem(per_item);
    if (!item.ok()) return {std::move(items), item.status()};
    items.push_back(*std::move(item));
  }
}

}  // namespace dataloader::testing

#endif  // TESTS_CORE_TEST_UTIL_H_
