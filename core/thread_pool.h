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
// Thread-safe. A TaskQueue may outlive its pool (its tasks then never run).
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
  // Joins the workers after their current task; tasks still queued are not run. May be called
  // from a task on one of the pool's own threads (the pool's owner destroyed there): that
  // thread is then detached and ends when the task returns, touching nothing of this object.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::unique_ptr<TaskQueue> CreateQueue();
  int num_threads() const { return static_cast<int>(workers_.size()); }
  // True if any task of any client is waiting for a worker: a worker that could go on with
  // its own next task should queue it behind them instead of jumping the line. A hint, not
  // synchronized.
  bool AnyWaiting() const { return state_->ready_count.load(std::memory_order_relaxed) > 0; }

 private:
  struct QueueState {
    std::deque<Task> tasks;  // Guarded by State::mu.
    // In ready. Written under State::mu; read without it only as a fairness hint.
    std::atomic<bool> scheduled{false};
  };
  // Shared with the workers and the queues, so that a worker can outlive the ThreadPool
  // object safely when the pool is destroyed from one of its tasks.
  struct State {
    bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return stopping || !ready.empty();
    }

    mutable Mutex mu;
    std::deque<QueueState*> ready ABSL_GUARDED_BY(mu);  // Queues with tasks, in turn order.
    bool stopping ABSL_GUARDED_BY(mu) = false;
    // ready.size(), readable without the lock for a cheap fairness hint.
    std::atomic<int> ready_count{0};
  };

  static void WorkerLoop(const std::shared_ptr<State>& state);

  const std::shared_ptr<State> state_ = std::make_shared<State>();
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
  explicit TaskQueue(std::shared_ptr<State> pool) : pool_(std::move(pool)) {}

  const std::shared_ptr<State> pool_;
  QueueState state_;
};

}  // namespace dataloader

#endif  // CORE_THREAD_POOL_H_
