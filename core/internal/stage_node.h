// Copyright 2026 The dataloader Authors.
//
// StageNode: a Pipe() or PipeAsync() stage. Keeps at most `concurrency` tasks scheduled: a
// task holds its slot from the moment it takes its input until all its outputs are in the
// output channel. With input order, a finished result waits for the earlier ones while
// keeping its slot, so the stage never exceeds `concurrency` (SPDL lets N+2 run).
//
// Sync tasks run on the pool; async ops start on the event loop and complete from any thread.
#ifndef CORE_INTERNAL_STAGE_NODE_H_
#define CORE_INTERNAL_STAGE_NODE_H_

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <utility>

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
  StageNode(PipelineCore& core, ChannelBase* input, std::string name, const StageOptions& options,
            Call call)
      : Node(core, std::move(name), options.concurrency, options.max_failures),
        in_(static_cast<Channel<In>*>(input)),
        order_(options.output_order),
        call_(std::move(call)) {}

  bool Pump(Dispatch& dispatch) override {
    bool progress = Deliver();
    while (in_use_ < concurrency() && !in_->empty()) {
      In item = in_->Pop();
      ++items_in_;
      ++in_use_;
      ++tasks_started_;
      const uint64_t ticket = next_ticket_++;
      if (order_ == OutputOrder::kInput) window_.emplace_back();
      if constexpr (kAsync) {
        core_.PostLocked([this, self = core_.shared_from_this(), item = std::move(item),
                          ticket]() mutable { StartAsync(std::move(item), ticket, self); });
      } else {
        (cost_.Cheap(kCheapTaskTime) ? dispatch.cheap_tasks : dispatch.pool_tasks)
            .push_back([this, item = std::move(item), ticket](Dispatch& next) mutable {
              RunSync(std::move(item), ticket, next);
            });
      }
      progress = true;
    }
    if (!out_.closed() && in_->drained() && in_use_ == 0) {
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
    stats.tasks_in_flight = in_use_;
    stats.mean_task_time = latency_.Mean();
    stats.p50_task_time = latency_.Percentile(0.5);
    stats.p99_task_time = latency_.Percentile(0.99);
    stats.task_times = latency_;
  }

 private:
  // On a pool thread, without the lock.
  void RunSync(In&& item, uint64_t ticket, Dispatch& dispatch) {
    if (!core_.BeginUserCall()) return;
    const auto start = std::chrono::steady_clock::now();
    Outcome<Out> outcome = call_(std::move(item), TaskContext(core_.token(), core_.loop(), name()));
    outcome.elapsed = absl::FromChrono(std::chrono::steady_clock::now() - start);
    MutexLock lock(&core_.mu());
    core_.EndUserCallLocked();
    FinishLocked(ticket, std::move(outcome));
    core_.ScheduleLocked(dispatch);
  }

  // On the event loop, without the lock.
  void StartAsync(In&& item, uint64_t ticket, const std::shared_ptr<PipelineCore>& self) {
    if (!core_.BeginUserCall()) return;
    const auto start = std::chrono::steady_clock::now();
    call_(std::move(item), TaskContext(core_.token(), core_.loop(), name()),
          [this, self, ticket, start](Outcome<Out> outcome) {
            outcome.elapsed = absl::FromChrono(std::chrono::steady_clock::now() - start);
            Dispatch dispatch;
            MutexLock lock(&self->mu());
            FinishLocked(ticket, std::move(outcome));
            self->ScheduleLocked(dispatch);
          });
    core_.EndUserCall();
  }

  void FinishLocked(uint64_t ticket, Outcome<Out>&& outcome) {
    if (!core_.RunningLocked()) return;  // Ended meanwhile: the result is discarded.
    latency_.Record(outcome.elapsed);
    cost_.Record(outcome.elapsed);
    if (outcome.status.ok()) {
      ++tasks_succeeded_;
    } else {
      ++tasks_failed_;
      outcome.items.clear();
      core_.RecordFailureLocked(*this, outcome.status);
      if (!core_.RunningLocked()) return;
    }
    if (order_ == OutputOrder::kInput) {
      window_[ticket - window_base_] = std::move(outcome);
    } else if (outcome.items.empty()) {
      --in_use_;  // Filtered out or failed: the slot is free at once.
    } else {
      done_.push_back(std::move(outcome));
    }
  }

  // Moves finished outputs into the output channel, in the stage's order, while it has room.
  bool Deliver() {
    bool progress = false;
    auto deliver_front = [&](Outcome<Out>& outcome) {
      while (outcome.next < outcome.items.size() && !out_.full()) {
        out_.Push(std::move(outcome.items[outcome.next++]));
        ++items_out_;
        progress = true;
      }
      return outcome.next == outcome.items.size();
    };
    if (order_ == OutputOrder::kInput) {
      while (!window_.empty() && window_.front().has_value() && deliver_front(*window_.front())) {
        window_.pop_front();
        ++window_base_;
        --in_use_;
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
  Call call_;

  // Guarded by the core's mutex.
  Channel<Out> out_;
  int in_use_ = 0;  // Slots taken: started and not yet fully passed on.
  uint64_t next_ticket_ = 0;
  std::deque<Outcome<Out>> done_;                   // Completion order: finished, waiting for room.
  std::deque<std::optional<Outcome<Out>>> window_;  // Input order: by ticket from window_base_.
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
