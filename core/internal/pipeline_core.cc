// Copyright 2026 The dataloader Authors.

#include "core/internal/pipeline_core.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/stage_function.h"
#include "core/status_macros.h"

namespace dataloader::internal {
namespace {

// How many tasks one pool thread runs back to back for a pipeline before handing its turn
// back to the pool (continuations skip the pool's queue; this bounds the unfairness).
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
    MutexLock lock(&mu_);
    queue = std::move(queue_);
  }
}

void PipelineCore::SetNodes(std::vector<std::unique_ptr<Node>> nodes, int64_t sink_capacity) {
  DL_CHECK(!nodes.empty());
  nodes_ = std::move(nodes);
  // The channel in front of a stage holds enough items to fill all its slots at once.
  for (size_t i = 0; i + 1 < nodes_.size(); ++i) {
    nodes_[i]->output().SetCapacity(std::max(2, nodes_[i + 1]->concurrency()));
  }
  sink_ = &nodes_.back()->output();
  sink_->SetCapacity(sink_capacity);
}

void PipelineCore::SetStatsCallback(absl::AnyInvocable<void(const PipelineStats&)> callback,
                                    absl::Duration interval) {
  stats_callback_ = std::move(callback);
  stats_interval_ = interval;
}

void PipelineCore::Start() {
  MutexLock lock(&mu_);
  if (state_ != State::kCreated) return;
  state_ = State::kRunning;
  if (stats_callback_) ArmStatsTimerLocked();
  Dispatch dispatch;
  ScheduleLocked(dispatch);
}

void PipelineCore::Cancel() {
  MutexLock lock(&mu_);
  EndLocked(State::kCancelled, absl::CancelledError("pipeline cancelled"));
}

absl::Status PipelineCore::Stop() {
  std::unique_ptr<ThreadPool::TaskQueue> queue;
  std::vector<absl::AnyInvocable<void()>> callbacks;
  absl::Status final_status;
  {
    MutexLock lock(&mu_);
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

absl::Status PipelineCore::status() const {
  MutexLock lock(&mu_);
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
  stats.items_emitted = items_emitted_;
  stats.failures = total_failures_;
  stats.status = state_ == State::kFinished ? absl::OkStatus() : Unshared(status_);
  return stats;
}

void PipelineCore::NotifyWhenReady(absl::AnyInvocable<void()> callback) {
  MutexLock lock(&mu_);
  if (detached_) return;  // Stopped: there is nothing to wait for and no loop to run on.
  ready_callbacks_.push_back(std::move(callback));
  if (SinkReadyLocked()) FireReadyCallbacksLocked();
}

bool PipelineCore::SinkReadyLocked() const {
  return state_ == State::kCancelled || state_ == State::kFailed || state_ == State::kFinished ||
         !sink_->empty() || sink_->drained();
}

bool PipelineCore::AwaitSinkReadyLocked(absl::Time deadline) {
  return mu_.AwaitWithDeadline(absl::Condition(this, &PipelineCore::SinkReadyLocked), deadline);
}

bool PipelineCore::CanTakeLocked() const {
  // A failed pipeline still hands out what reached the sink before the failure; a cancelled
  // one does not (the consumer asked to stop).
  return state_ != State::kCancelled && state_ != State::kCreated && !sink_->empty();
}

absl::Status PipelineCore::EndStatusLocked() const {
  if (state_ == State::kCancelled || state_ == State::kFailed) return Unshared(status_);
  if (sink_->drained()) return absl::OutOfRangeError("end of pipeline");
  return absl::FailedPreconditionError("pipeline has not started");
}

void PipelineCore::OnItemTakenLocked() {
  ++items_emitted_;
  Dispatch dispatch;
  ScheduleLocked(dispatch);
}

void PipelineCore::ScheduleLocked(Dispatch& dispatch) {
  if (state_ == State::kRunning) {
    // Sink to source: room made downstream is passed upstream in one pass. Another pass runs
    // only if something moved (new input can start a stage that had free slots).
    bool progress = true;
    while (progress) {
      progress = false;
      for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) progress |= (*it)->Pump(dispatch);
    }
    if (sink_->drained()) state_ = State::kFinished;
  }
  if (!ready_callbacks_.empty() && SinkReadyLocked()) FireReadyCallbacksLocked();

  if (dispatch.allow_inline) {
    for (CoreTask& task : dispatch.cheap_tasks) dispatch.inline_tasks.push_back(std::move(task));
    dispatch.cheap_tasks.clear();
    // Keep the most downstream task on this thread too (depth first: items reach the sink
    // sooner and memory stays low), but only if no task, of this pipeline or another, is
    // waiting for a thread: jumping the line would starve it.
    if (dispatch.inline_tasks.empty() && !dispatch.pool_tasks.empty() &&
        !runtime_.pool().AnyWaiting()) {
      dispatch.inline_tasks.push_back(std::move(dispatch.pool_tasks[0]));
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
  std::deque<CoreTask> work;
  work.push_back(std::move(first));
  for (int budget = kMaxInlineRun; !work.empty(); --budget) {
    if (budget == 0 || (work.size() > 1 && runtime_.pool().AnyWaiting())) {
      absl::InlinedVector<CoreTask, 4> rest;
      for (CoreTask& task : work) rest.push_back(std::move(task));
      MutexLock lock(&mu_);
      SubmitLocked(rest);
      return;
    }
    CoreTask task = std::move(work.front());
    work.pop_front();
    Dispatch dispatch;
    dispatch.allow_inline = true;
    task(dispatch);
    for (CoreTask& next : dispatch.inline_tasks) work.push_back(std::move(next));
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
      callback();
      self->EndUserCall();
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
  for (auto& node : nodes_) {
    if (&node->output() != sink_ || state == State::kCancelled) node->output().Clear();
  }
  if (queue_ != nullptr) std::vector<ThreadPool::Task> dropped = queue_->TakeQueued();
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
}

void PipelineCore::EndUserCall() {
  MutexLock lock(&mu_);
  EndUserCallLocked();
}

void PipelineCore::ArmStatsTimerLocked() {
  stats_timer_ = runtime_.loop().RunAfter(stats_interval_, [weak = weak_from_this()] {
    std::shared_ptr<PipelineCore> self = weak.lock();
    if (self == nullptr || !self->BeginUserCall(CallKind::kCallback)) return;
    PipelineStats stats;
    {
      MutexLock lock(&self->mu_);
      stats = self->StatsLocked();
    }
    // Only the loop thread touches the callback once the pipeline runs.
    self->stats_callback_(stats);
    MutexLock lock(&self->mu_);
    self->EndUserCallLocked();
    if (self->state_ == State::kRunning && !self->detached_) self->ArmStatsTimerLocked();
  });
}

}  // namespace dataloader::internal
