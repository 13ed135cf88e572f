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

#include "absl/container/inlined_vector.h"
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
    if (pulling_) return false;
    const int64_t allowance = Allowance();
    if (allowance == 0) return false;
    pulling_ = true;
    (cost_.Cheap(kCheapTaskTime) ? dispatch.cheap_tasks : dispatch.pool_tasks)
        .push_back([this, allowance](Dispatch& next) { Pull(next, allowance); });
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
  // Items the next pull may bring: 0 when it may not pull (no room, or outside the assembler's
  // window); 1 for an ordinary source, which publishes each item as it comes (a slow source
  // still streams); for a cheap source (pulls under kCheapTaskTime) up to kMaxCheapBatch at
  // once, one lock for all of them.
  int64_t Allowance() const {
    if (out_.closed() || out_.full()) return 0;
    int64_t allowance = cost_.Cheap(kCheapTaskTime) ? std::min(out_.room(), kMaxCheapBatch) : 1;
    if (positions_ != nullptr) {
      const uint64_t limit = positions_->AdmitLimitLocked();
      if (limit <= issued_) return 0;
      allowance = std::min<int64_t>(allowance, static_cast<int64_t>(limit - issued_));
    }
    return allowance;
  }

  // On a pool thread, without the lock. Pulls while the output channel has room, so that one
  // pool turn can fill the channel: with the pool busy with stage tasks, one item per turn
  // would starve the stages.
  void Pull(Dispatch& dispatch, int64_t allowance) {
    while (true) {
      if (!core_.BeginUserCall()) return;
      absl::InlinedVector<Item, 1> items;
      absl::Status error;
      bool ended = false;
      int64_t attempts = 0;
      const auto start = std::chrono::steady_clock::now();
      while (attempts < allowance && !ended && error.ok()) {
        if (attempts > 0 && core_.StageCallsStopped()) break;
        ++attempts;
        // Constructed, not assigned: items need only be movable.
        absl::StatusOr<std::optional<Item>> pulled = [&]() -> absl::StatusOr<std::optional<Item>> {
          try {
            return puller_();
          } catch (...) {
            return ExceptionStatus(absl::StrCat("source '", name(), "'"));
          }
        }();
        if (!pulled.ok()) {
          error = pulled.status();
        } else if (!pulled->has_value()) {
          ended = true;
        } else {
          items.push_back(std::move(**pulled));
        }
      }
      const absl::Duration each =
          absl::FromChrono(std::chrono::steady_clock::now() - start) / attempts;
      CoreLock lock(&core_);
      core_.EndUserCallLocked();
      latency_.Record(each, attempts);
      cost_.Record(each);
      pulls_started_ += attempts;
      if (!core_.RunningLocked()) {
        pulling_ = false;
        return;
      }
      pulls_succeeded_ += attempts - (error.ok() ? 0 : 1);
      for (Item& item : items) {
        out_.Push(std::move(item), issued_++);
        ++items_out_;
      }
      if (ended) out_.Close();
      if (!error.ok()) {
        ++pulls_failed_;
        pulling_ = false;
        core_.FailLocked(absl::Status(
            error.code(), absl::StrCat("source '", name(), "' failed: ", error.message())));
        core_.ScheduleLocked(dispatch);
        return;
      }
      // Decided before scheduling, which lets stages take from the channel: the room a pull
      // may fill is what it had, so a fast source does not monopolize the thread.
      allowance = Allowance();
      if (allowance == 0) pulling_ = false;
      core_.ScheduleLocked(dispatch);
      if (allowance == 0) return;
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
