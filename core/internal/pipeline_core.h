// Copyright 2026 The dataloader Authors.
//
// PipelineCore: the scheduling state of one pipeline, shared by its typed nodes and by the
// Pipeline<T> front end.
//
// Scheduling is event driven. Each event (a source pull or task finished, an async op
// completed, the consumer took an item, cancel) takes the core's mutex and runs one
// scheduling step, ScheduleLocked(), on the thread that raised it. The step only moves items
// between bounded channels and decides which tasks start; it never runs user code and never
// blocks. Synchronous tasks go to the runtime's thread pool; async op starts, "item ready"
// callbacks and timers go to the runtime's event loop. A dedicated scheduler thread would cost
// two thread hand-offs per item per stage (microseconds each); this way a stage hop costs a
// lock and a few moves.
//
// Lifetime: shared by Pipeline<T> and every queued task or pending completion, so late
// completions find it alive. Stop() detaches it from the runtime: after it returns no user
// code of this pipeline runs and nothing is submitted to the runtime again.
#ifndef CORE_INTERNAL_PIPELINE_CORE_H_
#define CORE_INTERNAL_PIPELINE_CORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/cancellation.h"
#include "core/event_loop.h"
#include "core/internal/channel.h"
#include "core/internal/node.h"
#include "core/internal/sink_queue.h"
#include "core/mutex.h"
#include "core/pipeline_options.h"
#include "core/pipeline_stats.h"
#include "core/runtime.h"
#include "core/thread_pool.h"

namespace dataloader::internal {

class PipelineCore;

// Work a scheduling step decided on. Runs on a pool thread with the core's mutex released.
using CoreTask = absl::AnyInvocable<void(Dispatch&)>;

// What one scheduling step hands out: tasks to run on the pool. `cheap_tasks` are those of
// stages whose tasks take less than kCheapTaskTime on average: on a pool thread they are run
// by that thread itself (`inline_tasks`), since handing them to another thread costs more
// than running them. `continuation` takes one ordinary task when no task waits for a thread.
struct Dispatch {
  // Filled by the nodes.
  absl::InlinedVector<CoreTask, 4> pool_tasks;
  absl::InlinedVector<CoreTask, 4> cheap_tasks;
  // Set by the caller: true only on a pool thread running this core's tasks.
  bool allow_inline = false;
  // Set by the caller (RunTasks): this thread goes on with cheap tasks and publishes the
  // sink's staged items itself before anything else (see ScheduleLocked), so a step may leave
  // a few there: the consumer is woken once per burst instead of once per item.
  bool defer_flush = false;
  // Filled by ScheduleLocked() when allow_inline.
  absl::InlinedVector<CoreTask, 4> inline_tasks;
  std::optional<CoreTask> continuation;
  // Set by ScheduleLocked() when it left staged items unpublished (defer_flush).
  bool flush_pending = false;
};

// A stage whose tasks take less than this on average is cheap (see Dispatch).
inline constexpr absl::Duration kCheapTaskTime = absl::Microseconds(5);
// The most items one task of a cheap stage or source takes: several per lock and per hand-off
// instead of one (see StageNode::BatchSize, SourceNode::Allowance).
inline constexpr int64_t kMaxCheapBatch = 32;

class PipelineCore : public std::enable_shared_from_this<PipelineCore> {
 public:
  class CoreLock;

  PipelineCore(Runtime& runtime, int64_t max_failures);
  ~PipelineCore();
  PipelineCore(const PipelineCore&) = delete;
  PipelineCore& operator=(const PipelineCore&) = delete;

  // Setup, before Start(). `nodes` run source first; the last node's output channel stages
  // items for `sink` (see SinkQueue), whose capacity it shares.
  void SetNodes(std::vector<std::unique_ptr<Node>> nodes, std::unique_ptr<SinkQueueBase> sink);
  void SetStatsCallback(absl::AnyInvocable<void(const PipelineStats&)> callback,
                        absl::Duration interval);

  // --- Front end (Pipeline<T>). Thread-safe. ---
  void Start();
  void Cancel();
  // Cancels if still running, then waits until no user code of this pipeline runs; returns
  // the final status (OK after a clean end). Idempotent.
  absl::Status Stop();
  // Cancels if still running and returns at once; once no user code of this pipeline runs,
  // detaches it as Stop() does and calls `done` on the event loop. Once per pipeline.
  void StopAsync(absl::AnyInvocable<void()> done);
  absl::Status status() const;
  PipelineStats Stats() const;
  // Runs `callback` once on the event loop when an item or the end is ready at the sink.
  void NotifyWhenReady(absl::AnyInvocable<void()> callback);
  // Where the consumer takes items.
  SinkQueueBase& sink_queue() { return *sink_queue_; }
  // Runs a scheduling step for the consumer: after it took a stalled pipeline's sink down to
  // its low-water mark (see SinkQueue).
  void Restart();

  // Lock it with CoreLock, not MutexLock.
  Mutex& mu() ABSL_LOCK_RETURNED(mu_) { return mu_; }

  // --- Nodes. ---
  bool RunningLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_ == State::kRunning;
  }
  void ScheduleLocked(Dispatch& dispatch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Posts an async op start (or other short callback) to the event loop, unless stopped.
  void PostLocked(EventLoop::Callback callback) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts a failed item of `node` and ends the pipeline if a budget is exceeded.
  void RecordFailureLocked(Node& node, const absl::Status& error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the pipeline with `error` (first error wins).
  void FailLocked(absl::Status error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Brackets a call into user code: returns false (and the call must be skipped) once it may
  // no longer run. A stage function or source pull (kStage) may not once the pipeline ended
  // (failed, cancelled, stopped); a callback (kCallback: "ready", stats) may until Stop(), so
  // that a consumer waiting for the end learns of it. Every true must be matched by
  // EndUserCall[Locked]().
  enum class CallKind { kStage, kCallback };
  bool BeginUserCall(CallKind kind = CallKind::kStage);
  // Between the calls of one batch (see StageNode): true once no new stage call may start.
  bool StageCallsStopped() const { return stage_calls_stopped_.load(); }
  void EndUserCallLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndUserCall() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `first` and the tasks it hands to this thread, on the calling pool thread.
  void RunTasks(CoreTask first);
  // Hands `tasks` to the pool (unless stopped).
  void SubmitLocked(absl::InlinedVector<CoreTask, 4>& tasks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  EventLoop& loop() { return runtime_.loop(); }
  const CancellationToken& token() const { return token_; }

 private:
  enum class State { kCreated, kRunning, kFinished, kFailed, kCancelled };

  void FireReadyCallbacksLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Posts the pending StopAsync() completion if no user call (besides the caller's own) runs.
  void MaybeFinishStopAsyncLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes a consumer waiting for items; without the lock. On the event loop (async ops
  // completing in a burst), once at the end of the loop's batch instead of per completion.
  void NotifyConsumer() ABSL_LOCKS_EXCLUDED(mu_);
  // An item or the end is ready for the consumer.
  bool SinkReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndLocked(State state, absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  PipelineStats StatsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ArmStatsTimerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  Runtime& runtime_;
  const int64_t max_failures_;
  CancellationSource cancel_source_;
  CancellationToken token_;

  mutable Mutex mu_;
  // Constant after SetNodes().
  std::vector<std::unique_ptr<Node>> nodes_;
  ChannelBase* sink_ = nullptr;  // The last node's output: staging for sink_queue_.
  std::unique_ptr<SinkQueueBase> sink_queue_;

  State state_ ABSL_GUARDED_BY(mu_) = State::kCreated;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  // Nulled by Stop(): nothing is submitted after that.
  std::unique_ptr<ThreadPool::TaskQueue> queue_ ABSL_GUARDED_BY(mu_);
  bool detached_ ABSL_GUARDED_BY(mu_) = false;
  int64_t total_failures_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t flushed_ ABSL_GUARDED_BY(mu_) = 0;  // Items moved to sink_queue_ so far.
  // Items were moved to a waiting consumer: CoreLock wakes it after unlocking.
  bool wake_consumer_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> started_{false};          // Lets Start() skip the lock once started.
  std::atomic<bool> notify_deferred_{false};  // A NotifyConsumer() waits for the loop's batch.
  std::vector<absl::AnyInvocable<void()>> ready_callbacks_ ABSL_GUARDED_BY(mu_);
  // StopAsync()'s `done`, until no user call runs.
  absl::AnyInvocable<void()> stop_async_done_ ABSL_GUARDED_BY(mu_);
  // What ending the pipeline took out of it (queued tasks, queued items: user objects whose
  // destructors may call back into the pipeline), destroyed by CoreLock after unlocking.
  std::vector<absl::AnyInvocable<void()>> trash_ ABSL_GUARDED_BY(mu_);
  // Set before Start(), then called only on the event loop thread.
  absl::AnyInvocable<void(const PipelineStats&)> stats_callback_;
  absl::Duration stats_interval_;
  std::optional<EventLoop::TimerId> stats_timer_ ABSL_GUARDED_BY(mu_);

  // Calls into user code in progress. Incremented without the lock (see BeginUserCall),
  // decremented under it so that Stop()'s wait sees the change.
  std::atomic<int64_t> user_calls_{0};
  std::atomic<bool> stage_calls_stopped_{false};  // Set when the pipeline ends or stops.
  std::atomic<bool> stopping_{false};             // Set by Stop(): no user code at all.
};

// Holds a core's mutex, as MutexLock does; on release it also destroys, after unlocking, what
// the pipeline dropped meanwhile (see trash_), so that no user destructor runs under the lock.
class ABSL_SCOPED_LOCKABLE PipelineCore::CoreLock {
 public:
  explicit CoreLock(PipelineCore* core) ABSL_EXCLUSIVE_LOCK_FUNCTION(core->mu()) : core_(core) {
    core_->mu_.Lock();
  }
  ~CoreLock() ABSL_UNLOCK_FUNCTION() {
    std::vector<absl::AnyInvocable<void()>> trash;
    trash.swap(core_->trash_);
    const bool wake = std::exchange(core_->wake_consumer_, false);
    core_->mu_.Unlock();
    if (wake) core_->NotifyConsumer();
  }
  CoreLock(const CoreLock&) = delete;
  CoreLock& operator=(const CoreLock&) = delete;

 private:
  PipelineCore* const core_;
};
using CoreLock = PipelineCore::CoreLock;

}  // namespace dataloader::internal

#endif  // CORE_INTERNAL_PIPELINE_CORE_H_
