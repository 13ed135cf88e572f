// Copyright 2026 The dataloader Authors.
//
// ThreadPool: a fixed number of threads that run synchronous tasks, shared fairly by its clients.
//
// Each client (one per pipeline) submits through its own TaskQueue. Workers serve the queues
// that have work in round-robin order, one task per turn, so a pipeline with 64 tasks waiting
// cannot starve one with a single task waiting: both get every other turn.
//
//   ThreadPool pool(4);
//   std::unique_ptr<ThreadPool::TaskQueue> queue = pool.CreateQueue();
//   queue->Submit([] { Work(); });
//
// Thread-safe. Every TaskQueue must be destroyed before its pool.
#ifndef CORE_THREAD_POOL_H_
#define CORE_THREAD_POOL_H_

#include <atomic>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "core/mutex.h"

namespace dataloader {

class ThreadPool {
 public:
  using Task = absl::AnyInvocable<void()>;
  class TaskQueue;

  // Starts `num_threads` (>= 1) worker threads.
  explicit ThreadPool(int num_threads);
  // Joins the workers after their current task; tasks still queued are not run.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::unique_ptr<TaskQueue> CreateQueue();
  int num_threads() const { return static_cast<int>(workers_.size()); }
  // True if any task of any client is waiting for a worker: a worker that could go on with
  // its own next task should queue it behind them instead of jumping the line. A hint, not
  // synchronized.
  bool AnyWaiting() const { return ready_count_.load(std::memory_order_relaxed) > 0; }

 private:
  struct QueueState {
    std::deque<Task> tasks;  // Guarded by ThreadPool::mu_.
    // In ready_. Written under ThreadPool::mu_; read without it only as a fairness hint.
    std::atomic<bool> scheduled{false};
  };

  void WorkerLoop();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !ready_.empty();
  }

  mutable Mutex mu_;
  std::deque<QueueState*> ready_ ABSL_GUARDED_BY(mu_);  // Queues with tasks, in turn order.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // ready_.size(), readable without the lock for a cheap fairness hint.
  std::atomic<int> ready_count_{0};

  // Constant after construction.
  std::vector<std::thread> workers_;
};

// One client's FIFO of tasks in a ThreadPool. Thread-safe.
class ThreadPool::TaskQueue {
 public:
  // Drops the tasks not yet started.
  ~TaskQueue();
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  void Submit(Task task);

  // Removes the tasks not yet started and returns them, so the caller can destroy them outside
  // any lock it holds.
  std::vector<Task> TakeQueued();

 private:
  friend class ThreadPool;
  explicit TaskQueue(ThreadPool* pool) : pool_(pool) {}

  ThreadPool* const pool_;
  QueueState state_;
};

}  // namespace dataloader

#endif  // CORE_THREAD_POOL_H_
