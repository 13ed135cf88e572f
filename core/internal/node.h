// Copyright 2026 The dataloader Authors.
//
// Node: one step of a pipeline (the source, a stage, aggregate, disaggregate) as the scheduler
// sees it. A node takes items from its input channel and fills its own output channel.
//
// Confined to the owning PipelineCore: every method runs with the core's mutex held.
#ifndef CORE_INTERNAL_NODE_H_
#define CORE_INTERNAL_NODE_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "core/internal/channel.h"
#include "core/pipeline_options.h"
#include "core/pipeline_stats.h"

namespace dataloader::internal {

struct Dispatch;
class PipelineCore;

// A moving average of a node's task times, to tell cheap stages (see Dispatch).
class TaskCost {
 public:
  void Record(absl::Duration elapsed) {
    const double nanos = absl::ToDoubleNanoseconds(elapsed);
    average_nanos_ = samples_ == 0 ? nanos : 0.9 * average_nanos_ + 0.1 * nanos;
    ++samples_;
  }
  // Needs a few samples: an unknown stage is assumed expensive and spread over the pool.
  bool Cheap(absl::Duration threshold) const {
    return samples_ >= 8 && average_nanos_ < absl::ToDoubleNanoseconds(threshold);
  }

 private:
  double average_nanos_ = 0;
  int64_t samples_ = 0;
};

// The link between a source and the AssembleNode downstream of it, for batches assembled by
// position. The source issues ordinal k only once the assembler admits it (its window of open
// batches reaches it); stages between them report the ordinals that will never arrive (an item
// that failed or was filtered out), so that its batch can complete without it.
class PositionWindow {
 public:
  virtual ~PositionWindow() = default;
  // Ordinals below this are admitted.
  virtual uint64_t AdmitLimitLocked() const = 0;
  virtual void OnDroppedLocked(uint64_t ordinal) = 0;
};

class Node {
 public:
  Node(PipelineCore& core, std::string name, int concurrency, int64_t max_failures)
      : core_(core),
        name_(std::move(name)),
        concurrency_(concurrency),
        max_failures_(max_failures) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Passes finished results on and starts new work, as far as room in the output channel,
  // output order and concurrency allow. Returns whether anything moved or started.
  virtual bool Pump(Dispatch& dispatch) = 0;
  virtual ChannelBase& output() = 0;
  // Stats of this node except the queue fields, which the core fills from output().
  virtual void FillStats(StageStats& stats) const = 0;

  // Set by the builder on the source and the stages before an AssembleNode.
  void set_position_window(PositionWindow* window) { positions_ = window; }
  // The source: how many items it has issued (their ordinals are 0..n-1). Others: 0.
  virtual uint64_t ordinals_issued() const { return 0; }

  const std::string& name() const { return name_; }
  // Slots the node fills from its input; sizes the channel in front of it.
  int concurrency() const { return concurrency_; }
  int64_t max_failures() const { return max_failures_; }
  int64_t failures() const { return failures_; }
  void CountFailure() { ++failures_; }

 protected:
  PipelineCore& core_;
  PositionWindow* positions_ = nullptr;  // Null unless the builder links one.

 private:
  const std::string name_;
  const int concurrency_;
  const int64_t max_failures_;
  int64_t failures_ = 0;
};

}  // namespace dataloader::internal

#endif  // CORE_INTERNAL_NODE_H_
