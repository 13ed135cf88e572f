// Copyright 2026 The dataloader Authors.
//
// StageNode: a Pipe() or PipeAsync() stage. At most `concurrency` tasks run at once.
//
// Completion order: a task holds its slot from the moment it takes its input until all its
// outputs are in the output channel (room downstream is the backpressure), so the stage holds
// at most `concurrency` results.
//
// Input order: a task's slot is for running. A finished result that must wait for an earlier
// one frees its slot and waits in the reorder window: tasks start while fewer than
// `concurrency` run and the span from the oldest result not yet passed on to the newest task is
// below concurrency + reorder_window. The stage holds at most that many results; one slow item
// stops new starts only once the window is full, never by holding threads.
//
// Items keep their ordinal (see Channel). When linked to an AssembleNode, a task that ends
// without output (failed, filtered) reports its ordinal as dropped.
//
// Sync tasks run on the pool; async ops start on the event loop and complete from any thread.
#ifndef CORE_INTERNAL_STAGE_NODE_H_
#define CORE_INTERNAL_STAGE_NODE_H_

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "core/internal/channel.h"
#include "core/internal/node.h"
#include "core/internal/pipeline_core.h"
#include "core/internal/stage_traits.h"
#include "core/stage_function.h"

namespace dataloader::internal {

// `Call` turns (In&&, const TaskContext&) into Outcome<Out> for sync stages; for async stages
// `Call` is (In&&, const TaskContext&, AnyInvocable<void(Outcome<Out>)>) and starts the op.
template <typename In, typename Out, typename Call, bool kAsync>
class StageNode final : public Node {
 public:
  // `may_fan_out`: a call may give several outputs (Many<U>).
  StageNode(PipelineCore& core, ChannelBase* input, std::string name, const StageOptions& options,
            bool may_fan_out, Call call)
      : Node(core, std::move(name), options.concurrency, options.max_failures),
        in_(static_cast<Channel<In>*>(input)),
        order_(options.output_order),
        span_limit_(options.concurrency +
                    (options.reorder_window > 0 ? options.reorder_window : options.concurrency)),
        batchable_(!kAsync && !may_fan_out && options.output_order == OutputOrder::kCompletion),
        call_(std::move(call)) {}

  bool Pump(Dispatch& dispatch) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_.mu()) {
    bool progress = Deliver();
    const bool cheap = !kAsync && cost_.Cheap(kCheapTaskTime);
    // Room upstream for batches of a cheap stage (see BatchSize).
    if (batchable_ && cheap) in_->SetConsumerCheap();
    while (CanStart() && !in_->empty()) {
      Task task;
      const int64_t n = cheap && batchable_ ? BatchSize() : 1;
      task.items.reserve(static_cast<size_t>(n));
      task.ordinals.reserve(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        uint64_t ordinal = 0;
        task.items.push_back(in_->Pop(&ordinal));
        task.ordinals.push_back(ordinal);
      }
      task.items_taken = static_cast<size_t>(n);
      items_in_ += n;
      ++running_;
      tasks_started_ += n;
      calls_in_flight_ += n;
      task.ticket = next_ticket_++;
      if (order_ == OutputOrder::kInput) {
        window_.emplace_back();
      } else {
        in_use_ += n;
      }
      if constexpr (kAsync) {
        core_.PostLocked([this, self = core_.shared_from_this(), task = std::move(task)]() mutable {
          StartAsync(std::move(task), self);
        });
      } else {
        (cheap ? dispatch.cheap_tasks : dispatch.pool_tasks)
            .push_back([this, task = std::move(task)](Dispatch& next) mutable {
              RunSync(std::move(task), next);
            });
      }
      progress = true;
    }
    if (!out_.closed() && in_->drained() && running_ == 0 && window_.empty() && done_.empty()) {
      out_.Close();
      progress = true;
    }
    return progress;
  }

  ChannelBase& output() override { return out_; }

  void FillStats(StageStats& stats) const override {
    stats.tasks_started = tasks_started_;
    stats.tasks_succeeded = tasks_succeeded_;
    stats.tasks_failed = tasks_failed_;
    stats.items_in = items_in_;
    stats.items_out = items_out_;
    stats.tasks_in_flight = calls_in_flight_;
    stats.concurrency = concurrency();
    stats.held_results =
        order_ == OutputOrder::kInput ? static_cast<int64_t>(window_.size()) : in_use_;
    stats.mean_task_time = latency_.Mean();
    stats.p50_task_time = latency_.Percentile(0.5);
    stats.p99_task_time = latency_.Percentile(0.99);
    stats.task_times = latency_;
  }

 private:
  // One task's inputs (several only for a cheap stage, see BatchSize) and where its results go.
  struct Task {
    absl::InlinedVector<In, 1> items;
    absl::InlinedVector<uint64_t, 1> ordinals;  // Each item's position (see Channel).
    uint64_t ticket = 0;                        // Start order within this stage.
    size_t items_taken = 0;
  };

  bool CanStart() const {
    if (running_ >= concurrency()) return false;
    if (order_ == OutputOrder::kInput) return static_cast<int64_t>(window_.size()) < span_limit_;
    return in_use_ < concurrency();
  }

  // Inputs for one task of a cheap stage: several per lock and per hand-off instead of one.
  // Never more than the output channel has room for beyond the results already held, so the
  // outputs go straight on when done: the stage holds at most max(concurrency, that room)
  // items, within the bound of the channel after it.
  int64_t BatchSize() const {
    const int64_t room = out_.room() - in_use_;
    return std::max<int64_t>(1, std::min({in_->size(), room, kMaxCheapBatch}));
  }

  // On a pool thread, without the lock.
  void RunSync(Task&& task, Dispatch& dispatch) {
    if (!core_.BeginUserCall()) return;
    absl::InlinedVector<Outcome<Out>, 1> outcomes;
    outcomes.reserve(task.items.size());
    const TaskContext context(core_.token(), core_.loop(), name());
    const auto start = std::chrono::steady_clock::now();
    for (In& item : task.items) {
      // A batch stops when the pipeline ends: no stage call starts after that.
      if (!outcomes.empty() && core_.StageCallsStopped()) break;
      outcomes.push_back(call_(std::move(item), context));
    }
    // One clock pair per task: a batch's items get its mean time.
    outcomes.front().elapsed = absl::FromChrono(std::chrono::steady_clock::now() - start) /
                               static_cast<int64_t>(outcomes.size());
    task.items.clear();
    CoreLock lock(&core_);
    core_.EndUserCallLocked();
    FinishLocked(task, outcomes);
    core_.ScheduleLocked(dispatch);
  }

  // On the event loop, without the lock.
  void StartAsync(Task&& task, const std::shared_ptr<PipelineCore>& self) {
    if (!core_.BeginUserCall()) return;
    const auto start = std::chrono::steady_clock::now();
    In item = std::move(task.items[0]);
    task.items.clear();
    call_(std::move(item), TaskContext(core_.token(), core_.loop(), name()),
          [this, self, task = std::move(task), start](Outcome<Out> outcome) {
            outcome.elapsed = absl::FromChrono(std::chrono::steady_clock::now() - start);
            Dispatch dispatch;
            // core_ is *self (kept alive by it): locked by that name for the analysis.
            CoreLock lock(&core_);
            absl::InlinedVector<Outcome<Out>, 1> outcomes;
            outcomes.push_back(std::move(outcome));
            FinishLocked(task, outcomes);
            core_.ScheduleLocked(dispatch);
          });
    core_.EndUserCall();
  }

  void FinishLocked(const Task& task, absl::InlinedVector<Outcome<Out>, 1>& outcomes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_.mu()) {
    if (!core_.RunningLocked()) return;  // Ended meanwhile: the results are discarded.
    --running_;
    calls_in_flight_ -= static_cast<int64_t>(task.items_taken);
    const absl::Duration each = outcomes.front().elapsed;
    latency_.Record(each, static_cast<int64_t>(outcomes.size()));
    cost_.Record(each);
    for (size_t i = 0; i < outcomes.size(); ++i) {
      Outcome<Out>& outcome = outcomes[i];
      if (outcome.status.ok()) {
        ++tasks_succeeded_;
      } else {
        ++tasks_failed_;
        outcome.items.clear();
        core_.RecordFailureLocked(*this, outcome.status);
        if (!core_.RunningLocked()) return;
      }
      outcome.ordinal = task.ordinals[i];
      if (outcome.items.empty() && positions_ != nullptr) {
        positions_->OnDroppedLocked(outcome.ordinal);
      }
      if (order_ == OutputOrder::kInput) {
        window_[task.ticket - window_base_] = std::move(outcome);
      } else if (outcome.items.empty()) {
        --in_use_;  // Filtered out or failed: the slot is free at once.
      } else if (done_.empty() && outcome.items.size() <= static_cast<size_t>(out_.room())) {
        // The common case, with room downstream: passed on at once, not queued.
        for (Out& item : outcome.items) out_.Push(std::move(item), outcome.ordinal);
        items_out_ += static_cast<int64_t>(outcome.items.size());
        --in_use_;
      } else {
        done_.push_back(std::move(outcome));
      }
    }
  }

  // Moves finished outputs into the output channel, in the stage's order, while it has room.
  bool Deliver() ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_.mu()) {
    bool progress = false;
    auto deliver_front = [&](Outcome<Out>& outcome) {
      while (outcome.next < outcome.items.size() && !out_.full()) {
        out_.Push(std::move(outcome.items[outcome.next++]), outcome.ordinal);
        ++items_out_;
        progress = true;
      }
      return outcome.next == outcome.items.size();
    };
    if (order_ == OutputOrder::kInput) {
      while (!window_.empty() && window_.front().has_value() && deliver_front(*window_.front())) {
        window_.pop_front();
        ++window_base_;
        progress = true;
      }
    } else {
      while (!done_.empty() && deliver_front(done_.front())) {
        done_.pop_front();
        --in_use_;
        progress = true;
      }
    }
    return progress;
  }

  // Constant after construction.
  Channel<In>* const in_;
  const OutputOrder order_;
  const int64_t span_limit_;  // Input order: concurrency + reorder window.
  const bool batchable_;      // Sync, one output per input, completion order.
  Call call_;

  // Guarded by the core's mutex.
  Channel<Out> out_;
  int running_ = 0;              // Tasks started and not finished.
  int64_t calls_in_flight_ = 0;  // Their inputs (several per task when batched).
  int in_use_ = 0;  // Completion order: slots taken, started and not yet fully passed on.
  uint64_t next_ticket_ = 0;
  std::deque<Outcome<Out>> done_;  // Completion order: finished, waiting for room.
  // Input order: a result (or a place for one) per ticket from window_base_, oldest first.
  std::deque<std::optional<Outcome<Out>>> window_;
  uint64_t window_base_ = 0;
  int64_t tasks_started_ = 0;
  int64_t tasks_succeeded_ = 0;
  int64_t tasks_failed_ = 0;
  int64_t items_in_ = 0;
  int64_t items_out_ = 0;
  LatencyHistogram latency_;
  TaskCost cost_;
};

}  // namespace dataloader::internal

#endif  // CORE_INTERNAL_STAGE_NODE_H_
