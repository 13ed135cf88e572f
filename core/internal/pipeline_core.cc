// Copyright 2026 The dataloader Authors.

#include "core/internal/pipeline_core.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/internal/stage_traits.h"
#include "core/stage_function.h"
#include "core/status_macros.h"

namespace dataloader::internal {
namespace {

// How many tasks one pool thread runs back to back for a pipeline before handing its turn
// back to the pool if other tasks wait for a thread (continuations skip the pool's queue;
// this bounds the unfairness).
constexpr int kMaxInlineRun = 256;

// The core whose user code the current thread is running, so that a Stop() called from inside
// a stage function or callback does not wait for itself.
thread_local const PipelineCore* t_user_call_of = nullptr;

// A status with its own storage. absl::Status copies share a reference-counted buffer whose
// count Debian's uninstrumented Abseil updates out of ThreadSanitizer's sight; handing the
// consumer a copy that shares nothing with the core (which may die on a pool thread) keeps
// TSan runs meaningful. Only end statuses are copied, so the cost does not matter.
absl::Status Unshared(const absl::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(status.code(), std::string(status.message()));
}

}  // namespace

PipelineCore::PipelineCore(Runtime& runtime, int64_t max_failures)
    : runtime_(runtime),
      max_failures_(max_failures),
      token_(cancel_source_.token()),
      queue_(runtime.pool().CreateQueue()) {}

PipelineCore::~PipelineCore() {
  // Stop() normally ran already (Pipeline<T> calls it); a core that was never started only
  // has to give its queue back.
  std::unique_ptr<ThreadPool::TaskQueue> queue;
  {
    CoreLock lock(this);
    queue = std::move(queue_);
  }
}

void PipelineCore::SetNodes(std::vector<std::unique_ptr<Node>> nodes,
                            std::unique_ptr<SinkQueueBase> sink) {
  DL_CHECK(!nodes.empty() && sink != nullptr);
  nodes_ = std::move(nodes);
  // The channel in front of a stage holds enough items to fill all its slots at once.
  for (size_t i = 0; i + 1 < nodes_.size(); ++i) {
    nodes_[i]->output().SetCapacity(std::max(2, nodes_[i + 1]->concurrency()));
  }
  sink_queue_ = std::move(sink);
  sink_ = &nodes_.back()->output();
  sink_->SetCapacity(sink_queue_->capacity());
}

void PipelineCore::SetStatsCallback(absl::AnyInvocable<void(const PipelineStats&)> callback,
                                    absl::Duration interval) {
  stats_callback_ = std::move(callback);
  stats_interval_ = interval;
}

void PipelineCore::Start() {
  if (started_.load(std::memory_order_acquire)) return;  // The consumer calls it per item.
  CoreLock lock(this);
  if (state_ != State::kCreated) return;
  started_.store(true, std::memory_order_release);
  state_ = State::kRunning;
  if (stats_callback_) ArmStatsTimerLocked();
  Dispatch dispatch;
  ScheduleLocked(dispatch);
}

void PipelineCore::Cancel() {
  CoreLock lock(this);
  EndLocked(State::kCancelled, absl::CancelledError("pipeline cancelled"));
}

absl::Status PipelineCore::Stop() {
  std::unique_ptr<ThreadPool::TaskQueue> queue;
  std::vector<absl::AnyInvocable<void()>> callbacks;
  absl::Status final_status;
  {
    CoreLock lock(this);
    if (state_ == State::kCreated || state_ == State::kRunning) {
      EndLocked(State::kCancelled, absl::CancelledError("pipeline stopped before its end"));
    }
    stage_calls_stopped_.store(true);
    stopping_.store(true);
    struct Waiter {
      const PipelineCore* core;
      int64_t own;  // 1 if Stop() runs inside one of this pipeline's user calls.
    } waiter{this, t_user_call_of == this ? 1 : 0};
    mu_.Await(absl::Condition(
        +[](Waiter* w) { return w->core->user_calls_.load() <= w->own; }, &waiter));
    detached_ = true;
    queue = std::move(queue_);
    if (stats_timer_.has_value()) runtime_.loop().CancelTimer(*stats_timer_);
    stats_timer_.reset();
    callbacks.swap(ready_callbacks_);
    final_status = state_ == State::kFinished ? absl::OkStatus() : Unshared(status_);
  }
  // Queued tasks and callbacks are destroyed here, outside the lock.
  return final_status;
}

void PipelineCore::StopAsync(absl::AnyInvocable<void()> done) {
  MutexLock lock(&mu_);
  DL_CHECK(!stop_async_done_);
  if (state_ == State::kCreated || state_ == State::kRunning) {
    EndLocked(State::kCancelled, absl::CancelledError("pipeline stopped before its end"));
  }
  stage_calls_stopped_.store(true);
  stopping_.store(true);
  stop_async_done_ = std::move(done);
  MaybeFinishStopAsyncLocked();
}

void PipelineCore::MaybeFinishStopAsyncLocked() {
  if (!stop_async_done_ || user_calls_.load() > (t_user_call_of == this ? 1 : 0)) return;
  // On the loop, not here: Stop() destroys queued tasks (not under mu_), and `done` may
  // destroy the pipeline, which must not happen inside one of its own calls. The loop belongs
  // to the runtime, which outlives the pipeline; Stop() there returns at once, since nothing
  // of this pipeline runs any more and nothing new may start.
  runtime_.loop().Post([self = shared_from_this(), done = std::move(stop_async_done_)]() mutable {
    self->Stop().IgnoreError();
    done();
  });
  stop_async_done_ = nullptr;
}

absl::Status PipelineCore::status() const {
  MutexLock lock(&mu_);  // Const: nothing is dropped here.
  return state_ == State::kFinished ? absl::OkStatus() : Unshared(status_);
}

PipelineStats PipelineCore::Stats() const {
  MutexLock lock(&mu_);
  return StatsLocked();
}

PipelineStats PipelineCore::StatsLocked() const {
  PipelineStats stats;
  stats.stages.reserve(nodes_.size());
  for (const auto& node : nodes_) {
    StageStats& stage = stats.stages.emplace_back();
    stage.name = node->name();
    node->FillStats(stage);
    stage.queue_size = node->output().size();
    stage.queue_capacity = node->output().capacity();
  }
  {
    MutexLock lock(&sink_queue_->mu);
    stats.stages.back().queue_size += sink_queue_->SizeLocked();
  }
  stats.items_emitted = sink_queue_->taken();
  stats.failures = total_failures_;
  stats.status = state_ == State::kFinished ? absl::OkStatus() : Unshared(status_);
  return stats;
}

void PipelineCore::NotifyWhenReady(absl::AnyInvocable<void()> callback) {
  CoreLock lock(this);
  if (detached_) return;  // Stopped: there is nothing to wait for and no loop to run on.
  ready_callbacks_.push_back(std::move(callback));
  if (SinkReadyLocked()) FireReadyCallbacksLocked();
}

bool PipelineCore::SinkReadyLocked() const {
  MutexLock lock(&sink_queue_->mu);
  return sink_queue_->ReadyLocked();
}

void PipelineCore::NotifyConsumer() {
  if (notify_deferred_.load(std::memory_order_acquire)) return;  // Already on its way.
  EventLoop::Callback notify = [self = shared_from_this()] {
    self->notify_deferred_.store(false, std::memory_order_release);
    self->sink_queue_->Notify();
  };
  notify_deferred_.store(true, std::memory_order_release);
  if (!EventLoop::DeferToEndOfBatch(notify)) {
    notify_deferred_.store(false, std::memory_order_release);
    sink_queue_->Notify();
  }
}

void PipelineCore::Restart() {
  CoreLock lock(this);
  Dispatch dispatch;
  ScheduleLocked(dispatch);
}

void PipelineCore::ScheduleLocked(Dispatch& dispatch) {
  bool again = state_ == State::kRunning;
  while (again) {
    again = false;
    // The consumer may have taken items since: a conservative view of the sink's room.
    sink_->set_reserved(flushed_ - sink_queue_->taken());
    // Sink to source: room made downstream is passed upstream in one pass. Another pass runs
    // only if something moved (new input can start a stage that had free slots).
    bool progress = true;
    while (progress) {
      progress = false;
      for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) progress |= (*it)->Pump(dispatch);
    }
    // The last node may be waiting for room if the staging channel looks full.
    const bool maybe_blocked = sink_->full();
    if (sink_->empty() && !maybe_blocked && !sink_->closed()) break;
    // A pool thread running cheap tasks publishes a burst at a time (see Dispatch).
    if (dispatch.defer_flush && !maybe_blocked && !sink_->closed() &&
        sink_->size() < std::max<int64_t>(1, sink_->capacity() / 2)) {
      dispatch.flush_pending = true;
      break;
    }
    // One lock of the consumer's queue per step, however many items: at most one wake-up.
    MutexLock lock(&sink_queue_->mu);
    const int64_t moved = sink_queue_->MoveFromLocked(*sink_);
    flushed_ += moved;
    if (moved > 0 && sink_queue_->ConsumerWaitingLocked()) wake_consumer_ = true;
    // The moved items keep their room until taken (nodes may push before the next step).
    sink_->set_reserved(flushed_ - sink_queue_->taken());
    if (sink_->closed()) {
      state_ = State::kFinished;
      sink_queue_->SetEndLocked(SinkQueueBase::End::kFinished, absl::OkStatus());
    } else if (maybe_blocked) {
      if (flushed_ - sink_queue_->taken() < sink_queue_->capacity()) {
        again = true;  // The consumer made room meanwhile: go on now.
      } else {
        // Full: the consumer restarts the pipeline at its low-water mark. Set under the
        // queue's lock, so that the consumer's next take sees it.
        sink_queue_->SetStalledLocked();
      }
    }
  }
  if (!ready_callbacks_.empty() && SinkReadyLocked()) FireReadyCallbacksLocked();

  // Once stopped, the runtime may be gone (the pipeline that owned it was destroyed from one
  // of its own calls): nothing below touches it.
  if (dispatch.allow_inline && !detached_) {
    for (CoreTask& task : dispatch.cheap_tasks) dispatch.inline_tasks.push_back(std::move(task));
    dispatch.cheap_tasks.clear();
    // Keep the most downstream task on this thread too (depth first: items reach the sink
    // sooner and memory stays low), but only if no task, of this pipeline or another, is
    // waiting for a thread: jumping the line would starve it.
    if (dispatch.inline_tasks.empty() && !dispatch.continuation.has_value() &&
        !dispatch.pool_tasks.empty() && !runtime_.pool().AnyWaiting()) {
      dispatch.continuation.emplace(std::move(dispatch.pool_tasks[0]));
      dispatch.pool_tasks.erase(dispatch.pool_tasks.begin());
    }
  }
  SubmitLocked(dispatch.cheap_tasks);
  SubmitLocked(dispatch.pool_tasks);
}

void PipelineCore::SubmitLocked(absl::InlinedVector<CoreTask, 4>& tasks) {
  if (!detached_ && state_ == State::kRunning) {
    for (CoreTask& task : tasks) {
      queue_->Submit([self = shared_from_this(), task = std::move(task)]() mutable {
        self->RunTasks(std::move(task));
      });
    }
  }
  tasks.clear();
}

void PipelineCore::RunTasks(CoreTask first) {
  // Tasks this thread runs itself, oldest first. Handed back to the pool when the budget is
  // spent or when another task waits for a thread, so that no pipeline monopolizes a thread.
  struct Work {
    CoreTask task;
    bool cheap;
  };
  std::deque<Work> work;
  work.push_back({std::move(first), false});
  bool flush_pending = false;
  auto take = [&work](Dispatch& dispatch) {
    for (CoreTask& next : dispatch.inline_tasks) work.push_back({std::move(next), true});
    if (dispatch.continuation.has_value()) {
      work.push_back({*std::move(dispatch.continuation), false});
    }
  };
  for (int budget = kMaxInlineRun;;) {
    // Stopped: the rest would not run anyway, and the runtime may be gone (see ScheduleLocked).
    if (stopping_.load()) return;
    // Only when a task (of any pipeline) waits for a thread: with none waiting, handing back
    // would only wake another thread to do the same work.
    const bool hand_back =
        !work.empty() && (budget <= 0 || work.size() > 1) && runtime_.pool().AnyWaiting();
    if (budget <= 0 && !hand_back) budget = kMaxInlineRun;
    // Staged sink items are published before anything that may take long: an ordinary task,
    // handing the work back, or this thread going idle.
    if (flush_pending && (work.empty() || hand_back || !work.front().cheap)) {
      flush_pending = false;
      Dispatch dispatch;
      dispatch.allow_inline = true;
      {
        CoreLock lock(this);
        ScheduleLocked(dispatch);
      }
      take(dispatch);
      continue;
    }
    if (work.empty()) return;
    if (hand_back) {
      absl::InlinedVector<CoreTask, 4> rest;
      for (Work& each : work) rest.push_back(std::move(each.task));
      CoreLock lock(this);
      SubmitLocked(rest);
      return;
    }
    CoreTask task = std::move(work.front().task);
    work.pop_front();
    --budget;
    Dispatch dispatch;
    dispatch.allow_inline = true;
    dispatch.defer_flush = true;
    task(dispatch);
    flush_pending |= dispatch.flush_pending;
    take(dispatch);
  }
}

void PipelineCore::PostLocked(EventLoop::Callback callback) {
  if (detached_) return;
  runtime_.loop().Post(std::move(callback));
}

void PipelineCore::FireReadyCallbacksLocked() {
  for (auto& callback : ready_callbacks_) {
    // Run through BeginUserCall so that Stop() waits for a callback in progress and skips
    // the ones not yet run: after Stop() returns, none runs.
    PostLocked([self = shared_from_this(), callback = std::move(callback)]() mutable {
      if (!self->BeginUserCall(CallKind::kCallback)) return;
      absl::Status thrown;
      try {
        callback();
      } catch (...) {
        thrown = ExceptionStatus("a NotifyWhenReady callback");
      }
      CoreLock lock(self.get());
      self->EndUserCallLocked();
      // An exception must not escape to the loop (it would end the process): it ends the
      // pipeline, if still running, with an error the consumer sees.
      if (!thrown.ok()) self->FailLocked(std::move(thrown));
    });
  }
  ready_callbacks_.clear();
}

void PipelineCore::RecordFailureLocked(Node& node, const absl::Status& error) {
  node.CountFailure();
  ++total_failures_;
  if (IsPipelineEnding(error)) {
    FailLocked(absl::Status(
        error.code(), absl::StrCat("stage '", node.name(), "': ", std::string(error.message()))));
    return;
  }
  if (node.max_failures() != kUnlimitedFailures && node.failures() > node.max_failures()) {
    FailLocked(absl::AbortedError(absl::StrCat(
        "stage '", node.name(), "' exceeded its failure budget: ", node.failures(),
        " items failed (max_failures ", node.max_failures(), "); last error: ", error.ToString())));
    return;
  }
  if (max_failures_ != kUnlimitedFailures && total_failures_ > max_failures_) {
    std::string per_stage;
    for (const auto& each : nodes_) {
      if (each->failures() == 0) continue;
      absl::StrAppend(&per_stage, per_stage.empty() ? "" : ", ", "'", each->name(), "' ",
                      each->failures());
    }
    FailLocked(absl::AbortedError(
        absl::StrCat("pipeline exceeded its failure budget: ", total_failures_,
                     " items failed (max_failures ", max_failures_, "; ", per_stage,
                     "); last error in stage '", node.name(), "': ", error.ToString())));
  }
}

void PipelineCore::FailLocked(absl::Status error) { EndLocked(State::kFailed, std::move(error)); }

void PipelineCore::EndLocked(State state, absl::Status status) {
  if (state_ != State::kCreated && state_ != State::kRunning) return;  // First end wins.
  state_ = state;
  status_ = std::move(status);
  stage_calls_stopped_.store(true);
  cancel_source_.Cancel();
  // Nothing inside the pipeline will be used any more. The sink keeps its items after a
  // failure (they were produced before it) but not after a cancel.
  // Items die outside the lock (CoreLock), as user destructors may call into the pipeline.
  // The consumer still gets what reached the sink before a failure, not after a cancel.
  {
    MutexLock lock(&sink_queue_->mu);
    if (state == State::kCancelled) {
      trash_.push_back(sink_queue_->TakeAllLocked());
    } else {
      flushed_ += sink_queue_->MoveFromLocked(*sink_);
    }
    sink_queue_->SetEndLocked(
        state == State::kCancelled ? SinkQueueBase::End::kCancelled : SinkQueueBase::End::kFailed,
        Unshared(status_));
  }
  for (auto& node : nodes_) trash_.push_back(node->output().TakeAll());
  if (queue_ != nullptr) {
    for (ThreadPool::Task& task : queue_->TakeQueued()) trash_.push_back(std::move(task));
  }
  if (stats_timer_.has_value()) runtime_.loop().CancelTimer(*stats_timer_);
  stats_timer_.reset();
  FireReadyCallbacksLocked();
}

bool PipelineCore::BeginUserCall(CallKind kind) {
  // Paired with Stop(): it sets the flags and then waits for user_calls_ to drop. Sequentially
  // consistent operations make sure one of the two sees the other.
  user_calls_.fetch_add(1);
  if ((kind == CallKind::kStage ? stage_calls_stopped_ : stopping_).load()) {
    EndUserCall();
    return false;
  }
  t_user_call_of = this;
  return true;
}

void PipelineCore::EndUserCallLocked() {
  t_user_call_of = nullptr;
  user_calls_.fetch_sub(1);
  MaybeFinishStopAsyncLocked();
}

void PipelineCore::EndUserCall() {
  CoreLock lock(this);
  EndUserCallLocked();
}

void PipelineCore::ArmStatsTimerLocked() {
  stats_timer_ = runtime_.loop().RunAfter(stats_interval_, [weak = weak_from_this()] {
    std::shared_ptr<PipelineCore> self = weak.lock();
    if (self == nullptr || !self->BeginUserCall(CallKind::kCallback)) return;
    PipelineStats stats;
    {
      CoreLock lock(self.get());
      stats = self->StatsLocked();
    }
    // Only the loop thread touches the callback once the pipeline runs.
    absl::Status thrown;
    try {
      self->stats_callback_(stats);
    } catch (...) {
      thrown = ExceptionStatus("the stats callback");
    }
    CoreLock lock(self.get());
    self->EndUserCallLocked();
    if (!thrown.ok()) self->FailLocked(std::move(thrown));  // As for a ready callback.
    if (self->state_ == State::kRunning && !self->detached_) self->ArmStatsTimerLocked();
  });
}

}  // namespace dataloader::internal
