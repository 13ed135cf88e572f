// Copyright 2026 The dataloader Authors.
//
// AggregateNode groups items into std::vector batches of n; DisaggregateNode splits a
// range-like item back into its elements. Both only move items, so they run inside the
// scheduling step and need no thread.
#ifndef CORE_INTERNAL_BATCH_NODES_H_
#define CORE_INTERNAL_BATCH_NODES_H_

#include <optional>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

#include "core/internal/channel.h"
#include "core/internal/node.h"
#include "core/internal/pipeline_core.h"

namespace dataloader::internal {

template <typename T>
class AggregateNode final : public Node {
 public:
  AggregateNode(PipelineCore& core, ChannelBase* input, std::string name, int size, bool drop_last)
      : Node(core, std::move(name), /*concurrency=*/1, kUnlimitedFailures),
        in_(static_cast<Channel<T>*>(input)),
        size_(static_cast<size_t>(size)),
        drop_last_(drop_last) {}

  bool Pump(Dispatch&) override {
    bool progress = false;
    while (true) {
      if (full_batch_.has_value()) {
        if (out_.full()) break;
        out_.Push(std::move(*full_batch_), static_cast<uint64_t>(items_out_));
        full_batch_.reset();
        ++items_out_;
        progress = true;
      }
      if (in_->empty()) break;
      if (partial_.empty()) partial_.reserve(size_);
      partial_.push_back(in_->Pop());
      ++items_in_;
      progress = true;
      if (partial_.size() == size_) {
        full_batch_.emplace(std::move(partial_));
        partial_ = std::vector<T>();
      }
    }
    if (!full_batch_.has_value() && in_->drained() && !out_.closed()) {
      if (!partial_.empty() && !drop_last_) {
        if (out_.full()) return progress;
        out_.Push(std::move(partial_), static_cast<uint64_t>(items_out_));
        ++items_out_;
      }
      partial_.clear();
      out_.Close();
      progress = true;
    }
    return progress;
  }

  ChannelBase& output() override { return out_; }
  void FillStats(StageStats& stats) const override {
    stats.items_in = items_in_;
    stats.items_out = items_out_;
  }

 private:
  Channel<T>* const in_;
  const size_t size_;
  const bool drop_last_;
  // Guarded by the core's mutex.
  Channel<std::vector<T>> out_;
  std::vector<T> partial_;
  std::optional<std::vector<T>> full_batch_;  // Waiting for room in out_.
  int64_t items_in_ = 0;
  int64_t items_out_ = 0;
};

template <typename Range>
class DisaggregateNode final : public Node {
 public:
  using Item = std::ranges::range_value_t<Range>;

  DisaggregateNode(PipelineCore& core, ChannelBase* input, std::string name)
      : Node(core, std::move(name), /*concurrency=*/1, kUnlimitedFailures),
        in_(static_cast<Channel<Range>*>(input)) {}

  bool Pump(Dispatch&) override {
    bool progress = false;
    while (!out_.full()) {
      if (current_.has_value() && next_ != std::ranges::end(*current_)) {
        out_.Push(std::move(*next_), ordinal_);
        ++next_;
        ++items_out_;
        progress = true;
        continue;
      }
      current_.reset();
      if (in_->empty()) break;
      current_.emplace(in_->Pop(&ordinal_));
      next_ = std::ranges::begin(*current_);
      ++items_in_;
      progress = true;
    }
    const bool holding = current_.has_value() && next_ != std::ranges::end(*current_);
    if (!holding && in_->drained() && !out_.closed()) {
      out_.Close();
      progress = true;
    }
    return progress;
  }

  ChannelBase& output() override { return out_; }
  void FillStats(StageStats& stats) const override {
    stats.items_in = items_in_;
    stats.items_out = items_out_;
  }

 private:
  Channel<Range>* const in_;
  // Guarded by the core's mutex.
  Channel<Item> out_;
  std::optional<Range> current_;
  std::ranges::iterator_t<Range> next_{};
  uint64_t ordinal_ = 0;  // current_'s, given to its elements.
  int64_t items_in_ = 0;
  int64_t items_out_ = 0;
};

}  // namespace dataloader::internal

#endif  // CORE_INTERNAL_BATCH_NODES_H_
