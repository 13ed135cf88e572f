// Copyright 2026 The dataloader Authors.
//
// EventLoop: one thread that runs short callbacks in order, now or at a time.
//
// Pipelines use it for what must not hold a pool thread: starting natively asynchronous ops,
// timers (an async op that waits, the periodic stats callback) and "an item is ready"
// notifications. Callbacks must not block: they delay every other callback of the loop.
//
//   EventLoop loop;
//   loop.Post([] { Log("soon"); });
//   EventLoop::TimerId id = loop.RunAfter(absl::Milliseconds(10), [] { Log("later"); });
//   loop.CancelTimer(id);
//
// Thread-safe.
#ifndef CORE_EVENT_LOOP_H_
#define CORE_EVENT_LOOP_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "core/mutex.h"

namespace dataloader {

class EventLoop {
 public:
  using Callback = absl::AnyInvocable<void()>;
  using TimerId = uint64_t;

  // Starts the loop's thread.
  EventLoop();
  // Stops after the running callback. Callbacks not yet run are destroyed without running,
  // on the destroying thread and outside the loop's lock. May be called from a callback on
  // the loop itself (the owner of the loop destroyed from its own callback): the loop's
  // thread is then detached and ends when that callback returns, touching nothing of this
  // object again.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs `callback` on the loop thread after the callbacks already posted.
  void Post(Callback callback);
  // Runs `callback` on the loop thread at `when` (or soon after) or after `delay`.
  TimerId RunAt(absl::Time when, Callback callback);
  TimerId RunAfter(absl::Duration delay, Callback callback) {
    return RunAt(absl::Now() + delay, std::move(callback));
  }
  // Removes a timer that has not fired; returns whether it was removed.
  bool CancelTimer(TimerId id);

  bool IsInLoopThread() const { return std::this_thread::get_id() == thread_.get_id(); }

  // From a callback running on an EventLoop: runs `callback` after the rest of the batch that
  // loop is running (the callbacks that were due together), before it waits again, and
  // returns true. Elsewhere returns false and leaves `callback` alone. For work that is
  // cheaper once per burst than once per callback, such as waking a consumer.
  static bool DeferToEndOfBatch(Callback& callback);

 private:
  // Shared with the loop's thread, so that the thread outlives the EventLoop object safely
  // when the loop is destroyed from one of its own callbacks.
  struct State {
    bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return stopping || !posted.empty() || timers_changed;
    }

    mutable Mutex mu;
    std::deque<Callback> posted ABSL_GUARDED_BY(mu);
    // Keyed by (due time, id): ordered by time, ties in submission order.
    std::map<std::pair<absl::Time, TimerId>, Callback> timers ABSL_GUARDED_BY(mu);
    std::map<TimerId, absl::Time> timer_due ABSL_GUARDED_BY(mu);
    TimerId next_timer_id ABSL_GUARDED_BY(mu) = 1;
    // Set when the earliest timer changed, so the loop recomputes how long it may sleep.
    bool timers_changed ABSL_GUARDED_BY(mu) = false;
    bool stopping ABSL_GUARDED_BY(mu) = false;
  };

  static void Run(const std::shared_ptr<State>& state);

  const std::shared_ptr<State> state_ = std::make_shared<State>();
  std::thread thread_;  // Last: starts after every member it reads is constructed.
};

}  // namespace dataloader

#endif  // CORE_EVENT_LOOP_H_
