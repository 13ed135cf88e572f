// Copyright 2026 The dataloader Authors.

#include "core/event_loop.h"

#include <vector>

namespace dataloader {

EventLoop::EventLoop() : thread_([this] { Run(); }) {}

EventLoop::~EventLoop() {
  std::deque<Callback> posted;
  std::map<std::pair<absl::Time, TimerId>, Callback> timers;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  {
    MutexLock lock(&mu_);
    posted.swap(posted_);
    timers.swap(timers_);
  }
  // `posted` and `timers` die here, outside the lock: their destructors may call back into
  // owners (a dropped completion tells its pipeline), which may post again; that is ignored.
}

void EventLoop::Post(Callback callback) {
  MutexLock lock(&mu_);
  posted_.push_back(std::move(callback));
}

EventLoop::TimerId EventLoop::RunAt(absl::Time when, Callback callback) {
  MutexLock lock(&mu_);
  const TimerId id = next_timer_id_++;
  if (timers_.empty() || when < timers_.begin()->first.first) timers_changed_ = true;
  timers_.emplace(std::make_pair(when, id), std::move(callback));
  timer_due_.emplace(id, when);
  return id;
}

bool EventLoop::CancelTimer(TimerId id) {
  Callback removed;  // Destroyed after the lock is released.
  MutexLock lock(&mu_);
  auto due = timer_due_.find(id);
  if (due == timer_due_.end()) return false;
  auto timer = timers_.find(std::make_pair(due->second, id));
  removed = std::move(timer->second);
  timers_.erase(timer);
  timer_due_.erase(due);
  return true;
}

void EventLoop::Run() {
  std::vector<Callback> batch;
  while (true) {
    {
      MutexLock lock(&mu_);
      const absl::Time deadline =
          timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first.first;
      mu_.AwaitWithDeadline(absl::Condition(this, &EventLoop::HasWork), deadline);
      if (stopping_) return;
      timers_changed_ = false;
      for (Callback& callback : posted_) batch.push_back(std::move(callback));
      posted_.clear();
      const absl::Time now = absl::Now();
      while (!timers_.empty() && timers_.begin()->first.first <= now) {
        auto first = timers_.begin();
        timer_due_.erase(first->first.second);
        batch.push_back(std::move(first->second));
        timers_.erase(first);
      }
    }
    for (Callback& callback : batch) callback();
    batch.clear();
  }
}

}  // namespace dataloader
