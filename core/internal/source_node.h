// Copyright 2026 The dataloader Authors.
//
// SourceNode: pulls items from the user's source on the thread pool, one pull at a time, while
// its output channel has room (and, when batches are assembled by position, while the
// assembler's window admits the next ordinal). Items get ordinals 0, 1, 2, ... in pull order.
// A source error ends the pipeline with that error.
#ifndef CORE_INTERNAL_SOURCE_NODE_H_
#define CORE_INTERNAL_SOURCE_NODE_H_

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/internal/channel.h"
#include "core/internal/node.h"
#include "core/internal/pipeline_core.h"
#include "core/internal/stage_traits.h"

namespace dataloader::internal {

template <typename Puller>
class SourceNode final : public Node {
 public:
  using Item = typename Puller::Item;

  SourceNode(PipelineCore& core, std::string name, Puller puller)
      : Node(core, std::move(name), /*concurrency=*/1, kUnlimitedFailures),
        puller_(std::move(puller)) {}

  bool Pump(Dispatch& dispatch) override {
    if (pulling_ || !MayPull()) return false;
    pulling_ = true;
    ++pulls_started_;
    (cost_.Cheap(kCheapTaskTime) ? dispatch.cheap_tasks : dispatch.pool_tasks)
        .push_back([this](Dispatch& next) { Pull(next); });
    return true;
  }

  ChannelBase& output() override { return out_; }
  uint64_t ordinals_issued() const override { return issued_; }

  void FillStats(StageStats& stats) const override {
    stats.tasks_started = pulls_started_;
    stats.tasks_succeeded = pulls_succeeded_;
    stats.tasks_failed = pulls_failed_;
    stats.items_out = items_out_;
    stats.tasks_in_flight = pulling_ ? 1 : 0;
    stats.mean_task_time = latency_.Mean();
    stats.p50_task_time = latency_.Percentile(0.5);
    stats.p99_task_time = latency_.Percentile(0.99);
    stats.task_times = latency_;
  }

 private:
  bool MayPull() const {
    return !out_.closed() && !out_.full() &&
           (positions_ == nullptr || positions_->AdmitsLocked(issued_));
  }

  // On a pool thread, without the lock. Pulls while the output channel has room, publishing
  // each item as it comes (a slow source still streams), so that one pool turn can fill the
  // channel: with the pool busy with stage tasks, one item per turn would starve the stages.
  void Pull(Dispatch& dispatch) {
    while (true) {
      if (!core_.BeginUserCall()) return;
      const auto start = std::chrono::steady_clock::now();
      // Constructed, not assigned: items need only be movable.
      absl::StatusOr<std::optional<Item>> pulled = [&]() -> absl::StatusOr<std::optional<Item>> {
        try {
          return puller_();
        } catch (...) {
          return ExceptionStatus(absl::StrCat("source '", name(), "'"));
        }
      }();
      const auto elapsed = absl::FromChrono(std::chrono::steady_clock::now() - start);
      CoreLock lock(&core_);
      core_.EndUserCallLocked();
      latency_.Record(elapsed);
      cost_.Record(elapsed);
      if (!core_.RunningLocked()) {
        pulling_ = false;
        return;
      }
      if (!pulled.ok()) {
        ++pulls_failed_;
        pulling_ = false;
        core_.FailLocked(absl::Status(
            pulled.status().code(),
            absl::StrCat("source '", name(), "' failed: ", pulled.status().message())));
        core_.ScheduleLocked(dispatch);
        return;
      }
      ++pulls_succeeded_;
      if (pulled->has_value()) {
        out_.Push(std::move(**pulled), issued_++);
        ++items_out_;
      } else {
        out_.Close();
      }
      // Decided before scheduling, which lets stages take from the channel: the room a pull
      // may fill is what it had, so a fast source does not monopolize the thread.
      const bool go_on = MayPull();
      if (!go_on) pulling_ = false;
      core_.ScheduleLocked(dispatch);
      if (!go_on) return;
      ++pulls_started_;
    }
  }

  // Called only by the one pull in flight.
  Puller puller_;
  // Guarded by the core's mutex.
  Channel<Item> out_;
  bool pulling_ = false;
  uint64_t issued_ = 0;  // Items pushed; the next one's ordinal.
  int64_t pulls_started_ = 0;
  int64_t pulls_succeeded_ = 0;
  int64_t pulls_failed_ = 0;
  int64_t items_out_ = 0;
  LatencyHistogram latency_;
  TaskCost cost_;
};

}  // namespace dataloader::internal

#endif  // CORE_INTERNAL_SOURCE_NODE_H_
