// Copyright 2026 The dataloader Authors.
//
// AssembleNode: batches assembled by position (PipelineBuilder::AssembleBatches).
//
// Every item carries its ordinal, the position its source item had (see Channel). Ordinal o
// belongs to batch o / size, at slot o % size. The node places each item in its slot as it
// arrives, in whatever order the stages before finished, and passes batches on in sequence once
// every slot is resolved: filled, or reported dropped by a stage (the item failed or was
// filtered out; the batch is then one smaller and nothing shifts).
//
// Memory: the node is the source's PositionWindow. The source issues ordinal o only while
// o / size < (batches passed on) + max_open_batches, so at most max_open_batches batches are
// open and every item between the source and this node belongs to one of them: a slow item
// stalls the source after max_open_batches x size items, and never a thread.
#ifndef CORE_INTERNAL_ASSEMBLE_NODE_H_
#define CORE_INTERNAL_ASSEMBLE_NODE_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/assembled_batch.h"
#include "core/internal/channel.h"
#include "core/internal/node.h"
#include "core/internal/pipeline_core.h"
#include "core/status_macros.h"

namespace dataloader::internal {

template <typename T>
class AssembleNode final : public Node, public PositionWindow {
 public:
  // `source` is the pipeline's source node, whose ordinals this node places.
  AssembleNode(PipelineCore& core, ChannelBase* input, std::string name, int size,
               int max_open_batches, bool drop_last, Node& source)
      : Node(core, std::move(name), /*concurrency=*/1, kUnlimitedFailures),
        in_(static_cast<Channel<T>*>(input)),
        size_(static_cast<uint64_t>(size)),
        max_open_(static_cast<uint64_t>(max_open_batches)),
        drop_last_(drop_last),
        source_(source) {}

  uint64_t AdmitLimitLocked() const override { return (next_batch_ + max_open_) * size_; }

  void OnDroppedLocked(uint64_t ordinal) override { ++Open(ordinal / size_).resolved; }

  bool Pump(Dispatch&) override {
    bool progress = false;
    while (!in_->empty()) {
      uint64_t ordinal = 0;
      T item = in_->Pop(&ordinal);
      ++items_in_;
      Batch& batch = Open(ordinal / size_);
      if (batch.slots.empty()) batch.slots.resize(size_);
      std::optional<T>& slot = batch.slots[ordinal % size_];
      DL_CHECK(!slot.has_value());  // Each ordinal arrives once (no fan-out before this node).
      slot.emplace(std::move(item));
      ++batch.resolved;
      progress = true;
    }
    while (!open_.empty() && Complete() && !out_.full()) {
      PassOnFront();
      progress = true;
    }
    // The end: the source issued everything and every batch it covers has left.
    if (!out_.closed() && source_.output().closed() &&
        next_batch_ * size_ >= source_.ordinals_issued() && in_->drained()) {
      out_.Close();
      progress = true;
    }
    return progress;
  }

  ChannelBase& output() override { return out_; }

  void FillStats(StageStats& stats) const override {
    stats.items_in = items_in_;
    stats.items_out = batches_out_;
    stats.concurrency = static_cast<int64_t>(max_open_);
    // Open: batches with an issued position that have not left yet.
    const uint64_t issued_batches = (source_.ordinals_issued() + size_ - 1) / size_;
    stats.open_batches =
        issued_batches > next_batch_ ? static_cast<int64_t>(issued_batches - next_batch_) : 0;
  }

 private:
  struct Batch {
    std::vector<std::optional<T>> slots;  // Allocated when its first item arrives.
    uint64_t resolved = 0;                // Slots filled or dropped.
  };

  // The open batch `sequence`, made on first use. Admission guarantees it is in the window.
  Batch& Open(uint64_t sequence) {
    DL_CHECK(sequence >= next_batch_ && sequence < next_batch_ + max_open_);
    const size_t index = static_cast<size_t>(sequence - next_batch_);
    if (index >= open_.size()) open_.resize(index + 1);
    return open_[index];
  }

  // Positions of the front batch: `size_`, or fewer for the last batch once the source ended.
  uint64_t FrontPositions() const {
    const uint64_t first = next_batch_ * size_;
    if (!source_.output().closed()) return size_;
    const uint64_t issued = source_.ordinals_issued();
    return issued <= first ? 0 : std::min(size_, issued - first);
  }

  bool Complete() const {
    const uint64_t positions = FrontPositions();
    return positions > 0 && open_.front().resolved == positions;
  }

  void PassOnFront() {
    const bool short_batch = FrontPositions() < size_;
    Batch batch = std::move(open_.front());
    open_.pop_front();
    const uint64_t sequence = next_batch_++;
    if (short_batch && drop_last_) return;
    AssembledBatch<T> out;
    out.sequence = static_cast<int64_t>(sequence);
    for (size_t i = 0; i < batch.slots.size(); ++i) {
      if (!batch.slots[i].has_value()) continue;
      out.items.push_back(std::move(*batch.slots[i]));
      out.slots.push_back(static_cast<int32_t>(i));
    }
    out_.Push(std::move(out), sequence);
    ++batches_out_;
  }

  // Constant after construction.
  Channel<T>* const in_;
  const uint64_t size_;
  const uint64_t max_open_;
  const bool drop_last_;
  Node& source_;

  // Guarded by the core's mutex.
  Channel<AssembledBatch<T>> out_;
  std::deque<Batch> open_;   // open_[i] is batch next_batch_ + i.
  uint64_t next_batch_ = 0;  // Batches before it have left.
  int64_t items_in_ = 0;
  int64_t batches_out_ = 0;
};

}  // namespace dataloader::internal

#endif  // CORE_INTERNAL_ASSEMBLE_NODE_H_
