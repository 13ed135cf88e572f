// Copyright 2026 The dataloader Authors.

#include "core/thread_pool.h"

#include <algorithm>
#include <utility>

#include "core/status_macros.h"

namespace dataloader {

ThreadPool::ThreadPool(int num_threads) {
  DL_CHECK(num_threads >= 1);
  workers_.reserve(num_threads);
  for (int i = 0; i < num_threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& worker : workers_) worker.join();
}

std::unique_ptr<ThreadPool::TaskQueue> ThreadPool::CreateQueue() {
  return std::unique_ptr<TaskQueue>(new TaskQueue(this));
}

void ThreadPool::WorkerLoop() {
  while (true) {
    Task task;
    {
      MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &ThreadPool::HasWorkOrStopping));
      if (stopping_) return;
      QueueState* queue = ready_.front();
      ready_.pop_front();
      task = std::move(queue->tasks.front());
      queue->tasks.pop_front();
      // One task per turn: a queue with more work goes to the back of the line.
      if (queue->tasks.empty()) {
        queue->scheduled.store(false, std::memory_order_relaxed);
      } else {
        ready_.push_back(queue);
      }
      ready_count_.store(static_cast<int>(ready_.size()), std::memory_order_relaxed);
    }
    task();
  }
}

ThreadPool::TaskQueue::~TaskQueue() { std::vector<Task> dropped = TakeQueued(); }

void ThreadPool::TaskQueue::Submit(Task task) {
  MutexLock lock(&pool_->mu_);
  state_.tasks.push_back(std::move(task));
  if (!state_.scheduled.load(std::memory_order_relaxed)) {
    state_.scheduled.store(true, std::memory_order_relaxed);
    pool_->ready_.push_back(&state_);
    pool_->ready_count_.store(static_cast<int>(pool_->ready_.size()), std::memory_order_relaxed);
  }
}

std::vector<ThreadPool::Task> ThreadPool::TaskQueue::TakeQueued() {
  std::vector<Task> taken;
  MutexLock lock(&pool_->mu_);
  taken.reserve(state_.tasks.size());
  for (Task& task : state_.tasks) taken.push_back(std::move(task));
  state_.tasks.clear();
  if (state_.scheduled.load(std::memory_order_relaxed)) {
    auto& ready = pool_->ready_;
    ready.erase(std::find(ready.begin(), ready.end(), &state_));
    state_.scheduled.store(false, std::memory_order_relaxed);
    pool_->ready_count_.store(static_cast<int>(ready.size()), std::memory_order_relaxed);
  }
  return taken;
}

}  // namespace dataloader
