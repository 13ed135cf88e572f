// Copyright 2026 The dataloader Authors.
//
// Channel<T>: the bounded queue between two nodes of a pipeline (and, after the last node, the
// sink). Capacity is fixed before the pipeline starts; nothing is pushed past it, which is
// what bounds a pipeline's memory. The producing node closes it when it will push no more.
//
// Thread-compatible: every access happens under the owning PipelineCore's mutex.
#ifndef CORE_INTERNAL_CHANNEL_H_
#define CORE_INTERNAL_CHANNEL_H_

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/status_macros.h"

namespace dataloader::internal {

class ChannelBase {
 public:
  virtual ~ChannelBase() = default;

  int64_t size() const { return size_; }
  int64_t capacity() const { return capacity_; }
  int64_t room() const { return capacity_ - size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ >= capacity_; }
  // Closed: the producer will push nothing more. Items already in it can still be popped.
  bool closed() const { return closed_; }
  void Close() { closed_ = true; }
  // Drained: closed and empty, nothing more will ever come out.
  bool drained() const { return closed_ && size_ == 0; }

  virtual void SetCapacity(int64_t capacity) = 0;
  // Destroys the items in it (cancellation).
  virtual void Clear() = 0;

 protected:
  int64_t size_ = 0;
  int64_t capacity_ = 0;
  bool closed_ = false;
};

template <typename T>
class Channel final : public ChannelBase {
 public:
  void SetCapacity(int64_t capacity) override {
    DL_CHECK(capacity >= 1 && size_ == 0);
    capacity_ = capacity;
    slots_.assign(static_cast<size_t>(capacity), std::nullopt);
    head_ = 0;
  }

  void Push(T item) {
    DL_CHECK(size_ < capacity_);
    slots_[(head_ + size_) % capacity_].emplace(std::move(item));
    ++size_;
  }

  T Pop() {
    DL_CHECK(size_ > 0);
    std::optional<T>& slot = slots_[head_];
    T item = std::move(*slot);
    slot.reset();
    head_ = (head_ + 1) % capacity_;
    --size_;
    return item;
  }

  void Clear() override {
    for (auto& slot : slots_) slot.reset();
    head_ = 0;
    size_ = 0;
  }

 private:
  std::vector<std::optional<T>> slots_;
  int64_t head_ = 0;
};

}  // namespace dataloader::internal

#endif  // CORE_INTERNAL_CHANNEL_H_
