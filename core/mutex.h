// Copyright 2026 The dataloader Authors.
//
// dataloader::Mutex: the lock every part of the project uses.
//
// Normally it is absl::Mutex with nothing added. In ThreadSanitizer builds it is a std::mutex
// plus a condition variable with the same API, because Debian's absl::Mutex is compiled without
// TSan instrumentation: TSan cannot see its happens-before edges and reports false races on
// every guarded member. Annotating absl::Mutex is not enough (a waiter's Condition is read by the
// unlocking thread through absl's uninstrumented queues), so TSan builds swap the implementation.
//
//   dataloader::Mutex mu;
//   int value ABSL_GUARDED_BY(mu) = 0;
//   {
//     dataloader::MutexLock lock(&mu);
//     mu.Await(absl::Condition(+[](int* v) { return *v > 0; }, &value));
//   }
//
// Thread-safe.
#ifndef CORE_MUTEX_H_
#define CORE_MUTEX_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#if defined(__SANITIZE_THREAD__)
#define DATALOADER_TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DATALOADER_TSAN_BUILD 1
#endif
#endif

#ifdef DATALOADER_TSAN_BUILD
#include <chrono>
#include <condition_variable>
#include <mutex>
#endif

namespace dataloader {

#ifndef DATALOADER_TSAN_BUILD

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.Lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.Unlock(); }
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() { mu_.AssertHeld(); }

  // Releases the lock until `condition` holds, then returns with the lock held again.
  void Await(const absl::Condition& condition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    mu_.Await(condition);
  }
  // As Await, but gives up at `deadline`; returns whether `condition` holds.
  bool AwaitWithDeadline(const absl::Condition& condition, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return mu_.AwaitWithDeadline(condition, deadline);
  }
  bool AwaitWithTimeout(const absl::Condition& condition, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return mu_.AwaitWithTimeout(condition, timeout);
  }

 private:
  absl::Mutex mu_;
};

#else  // DATALOADER_TSAN_BUILD

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    // absl::Mutex re-evaluates waiters' conditions on unlock; waking every waiter gives the
    // same semantics at a cost that only sanitizer builds pay. Notify before unlocking: once
    // unlocked, a woken waiter may destroy this object.
    if (waiters_ > 0) changed_.notify_all();
    mu_.unlock();
  }
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

  void Await(const absl::Condition& condition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    ++waiters_;
    changed_.wait(lock, [&] { return condition.Eval(); });
    --waiters_;
    lock.release();
  }
  bool AwaitWithDeadline(const absl::Condition& condition, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return AwaitWithTimeout(condition, deadline - absl::Now());
  }
  bool AwaitWithTimeout(const absl::Condition& condition, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    // An infinite wait would overflow the chrono conversion below.
    if (timeout >= absl::Hours(24 * 365)) {
      Await(condition);
      return true;
    }
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    ++waiters_;
    const bool met = changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                                       [&] { return condition.Eval(); });
    --waiters_;
    lock.release();
    return met;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int waiters_ = 0;  // Guarded by mu_.
};

#endif  // DATALOADER_TSAN_BUILD

// Holds `mu` for its scope, like absl::MutexLock.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace dataloader

#endif  // CORE_MUTEX_H_
