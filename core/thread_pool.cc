// Copyright 2026 The dataloader Authors.

#include "core/thread_pool.h"

#include <algorithm>
#include <utility>

#include "core/status_macros.h"

namespace dataloader {

ThreadPool::ThreadPool(int num_threads) {
  DL_CHECK(num_threads >= 1);
  workers_.reserve(num_threads);
  for (int i = 0; i < num_threads; ++i) {
    workers_.emplace_back([state = state_] { WorkerLoop(state); });
  }
}

ThreadPool::~ThreadPool() {
  {
    MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  // From one of our own tasks (its owner is being destroyed there), joining that thread would
  // wait for ourselves: it ends on its own once the task returns, holding the state.
  const std::thread::id self = std::this_thread::get_id();
  for (std::thread& worker : workers_) {
    if (worker.get_id() == self) {
      worker.detach();
    } else {
      worker.join();
    }
  }
}

std::unique_ptr<ThreadPool::TaskQueue> ThreadPool::CreateQueue() {
  return std::unique_ptr<TaskQueue>(new TaskQueue(state_));
}

void ThreadPool::WorkerLoop(const std::shared_ptr<State>& shared) {
  State& state = *shared;
  while (true) {
    Task task;
    {
      MutexLock lock(&state.mu);
      state.mu.Await(absl::Condition(&state, &State::HasWorkOrStopping));
      if (state.stopping) return;
      QueueState* queue = state.ready.front();
      state.ready.pop_front();
      task = std::move(queue->tasks.front());
      queue->tasks.pop_front();
      // One task per turn: a queue with more work goes to the back of the line.
      if (queue->tasks.empty()) {
        queue->scheduled.store(false, std::memory_order_relaxed);
      } else {
        state.ready.push_back(queue);
      }
      state.ready_count.store(static_cast<int>(state.ready.size()), std::memory_order_relaxed);
    }
    task();
  }
}

ThreadPool::TaskQueue::~TaskQueue() { std::vector<Task> dropped = TakeQueued(); }

void ThreadPool::TaskQueue::Submit(Task task) {
  State& pool = *pool_;
  MutexLock lock(&pool.mu);
  if (pool.stopping) return;  // The pool is gone or going: nothing runs any more.
  state_.tasks.push_back(std::move(task));
  if (!state_.scheduled.load(std::memory_order_relaxed)) {
    state_.scheduled.store(true, std::memory_order_relaxed);
    pool.ready.push_back(&state_);
    pool.ready_count.store(static_cast<int>(pool.ready.size()), std::memory_order_relaxed);
  }
}

std::vector<ThreadPool::Task> ThreadPool::TaskQueue::TakeQueued() {
  std::vector<Task> taken;
  State& pool = *pool_;
  MutexLock lock(&pool.mu);
  taken.reserve(state_.tasks.size());
  for (Task& task : state_.tasks) taken.push_back(std::move(task));
  state_.tasks.clear();
  if (state_.scheduled.load(std::memory_order_relaxed)) {
    auto& ready = pool.ready;
    ready.erase(std::find(ready.begin(), ready.end(), &state_));
    state_.scheduled.store(false, std::memory_order_relaxed);
    pool.ready_count.store(static_cast<int>(ready.size()), std::memory_order_relaxed);
  }
  return taken;
}

}  // namespace dataloader
