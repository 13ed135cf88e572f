// Copyright 2026 The dataloader Authors.

#include "core/event_loop.h"

#include <vector>

namespace dataloader {
namespace {

// The end-of-batch list of the loop whose batch the current thread is running, if any.
thread_local std::vector<EventLoop::Callback>* t_end_of_batch = nullptr;

}  // namespace

bool EventLoop::DeferToEndOfBatch(Callback& callback) {
  if (t_end_of_batch == nullptr) return false;
  t_end_of_batch->push_back(std::move(callback));
  return true;
}

EventLoop::EventLoop() : thread_([state = state_] { Run(state); }) {}

EventLoop::~EventLoop() {
  std::deque<Callback> posted;
  std::map<std::pair<absl::Time, TimerId>, Callback> timers;
  {
    MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  // From one of our own callbacks (its owner is being destroyed there), joining would wait
  // for ourselves: the thread ends on its own once the callback returns, holding the state.
  if (IsInLoopThread()) {
    thread_.detach();
  } else {
    thread_.join();
  }
  {
    MutexLock lock(&state_->mu);
    posted.swap(state_->posted);
    timers.swap(state_->timers);
    state_->timer_due.clear();
  }
  // `posted` and `timers` die here, outside the lock: their destructors may call back into
  // owners (a dropped completion tells its pipeline), which may post again; that is ignored.
}

void EventLoop::Post(Callback callback) {
  MutexLock lock(&state_->mu);
  state_->posted.push_back(std::move(callback));
}

EventLoop::TimerId EventLoop::RunAt(absl::Time when, Callback callback) {
  State& state = *state_;
  MutexLock lock(&state.mu);
  const TimerId id = state.next_timer_id++;
  if (state.timers.empty() || when < state.timers.begin()->first.first) {
    state.timers_changed = true;
  }
  state.timers.emplace(std::make_pair(when, id), std::move(callback));
  state.timer_due.emplace(id, when);
  return id;
}

bool EventLoop::CancelTimer(TimerId id) {
  Callback removed;  // Destroyed after the lock is released.
  State& state = *state_;
  MutexLock lock(&state.mu);
  auto due = state.timer_due.find(id);
  if (due == state.timer_due.end()) return false;
  auto timer = state.timers.find(std::make_pair(due->second, id));
  removed = std::move(timer->second);
  state.timers.erase(timer);
  state.timer_due.erase(due);
  return true;
}

void EventLoop::Run(const std::shared_ptr<State>& shared) {
  State& state = *shared;
  std::vector<Callback> batch;
  while (true) {
    {
      MutexLock lock(&state.mu);
      const absl::Time deadline =
          state.timers.empty() ? absl::InfiniteFuture() : state.timers.begin()->first.first;
      state.mu.AwaitWithDeadline(absl::Condition(&state, &State::HasWork), deadline);
      if (state.stopping) break;
      state.timers_changed = false;
      for (Callback& callback : state.posted) batch.push_back(std::move(callback));
      state.posted.clear();
      const absl::Time now = absl::Now();
      while (!state.timers.empty() && state.timers.begin()->first.first <= now) {
        auto first = state.timers.begin();
        state.timer_due.erase(first->first.second);
        batch.push_back(std::move(first->second));
        state.timers.erase(first);
      }
    }
    std::vector<Callback> end_of_batch;
    t_end_of_batch = &end_of_batch;
    bool stopped = false;
    for (size_t i = 0; i < batch.size() && !stopped; ++i) {
      batch[i]();
      // Destroyed meanwhile (from that callback, or by another thread): the rest of the
      // batch is dropped, as the destructor promises for callbacks not yet run.
      MutexLock lock(&state.mu);
      stopped = state.stopping;
    }
    t_end_of_batch = nullptr;
    // Deferred work runs even when stopping: what it keeps alive, it owns.
    for (Callback& callback : end_of_batch) callback();
    batch.clear();
  }
  batch.clear();  // Dropped callbacks die here, outside the lock.
}

}  // namespace dataloader
