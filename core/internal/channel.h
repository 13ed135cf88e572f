// Copyright 2026 The dataloader Authors.
//
// Channel<T>: the bounded queue between two nodes of a pipeline. Capacity is fixed before the
// pipeline starts; nothing is pushed past it, which is what bounds a pipeline's memory. Storage
// grows with use (doubling, up to the capacity), so a large capacity costs nothing until items
// fill it. The producing node closes it when it will push no more.
//
// Every item travels with its ordinal: the position the source gave the item it came from
// (0, 1, 2, ...). Stages pass it on unchanged; AssembleNode places items by it.
//
// Thread-compatible: every access happens under the owning PipelineCore's mutex.
#ifndef CORE_INTERNAL_CHANNEL_H_
#define CORE_INTERNAL_CHANNEL_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "core/status_macros.h"

namespace dataloader::internal {

class ChannelBase {
 public:
  virtual ~ChannelBase() = default;

  int64_t size() const { return size_; }
  int64_t capacity() const { return capacity_; }
  int64_t room() const { return capacity_ - size_ - reserved_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ + reserved_ >= capacity_; }
  // Room taken by items elsewhere: the sink's staging channel shares its capacity with the
  // consumer's queue (see SinkQueue).
  void set_reserved(int64_t reserved) { reserved_ = reserved; }
  // Closed: the producer will push nothing more. Items already in it can still be popped.
  bool closed() const { return closed_; }
  void Close() { closed_ = true; }
  // Drained: closed and empty, nothing more will ever come out.
  bool drained() const { return closed_ && size_ == 0; }

  void SetCapacity(int64_t capacity) {
    DL_CHECK(capacity >= 1 && size_ == 0);
    capacity_ = capacity;
  }
  // Raised to at least kCheapQueueItems once the stage taking from this channel is found cheap
  // (its tasks run several items per lock). Never lowered again: producers may have counted
  // on the room.
  void SetConsumerCheap() { capacity_ = std::max(capacity_, kCheapQueueItems); }
  static constexpr int64_t kCheapQueueItems = 16;
  // Empties the channel and returns its items in an owner that destroys them when it is
  // destroyed (never called), so that the caller can let them die outside its lock.
  virtual absl::AnyInvocable<void()> TakeAll() = 0;

 protected:
  int64_t size_ = 0;
  int64_t capacity_ = 0;
  int64_t reserved_ = 0;
  bool closed_ = false;
};

template <typename T>
class Channel final : public ChannelBase {
 public:
  void Push(T item, uint64_t ordinal) {
    DL_CHECK(size_ + reserved_ < capacity_);
    if (static_cast<size_t>(size_) == slots_.size()) Grow();
    Slot& slot = slots_[Index(size_)];
    slot.item.emplace(std::move(item));
    slot.ordinal = ordinal;
    ++size_;
  }

  // Pops the oldest item; stores its ordinal in `*ordinal` if given.
  T Pop(uint64_t* ordinal = nullptr) {
    DL_CHECK(size_ > 0);
    Slot& slot = slots_[head_];
    T item = std::move(*slot.item);
    slot.item.reset();
    if (ordinal != nullptr) *ordinal = slot.ordinal;
    head_ = head_ + 1 == slots_.size() ? 0 : head_ + 1;
    --size_;
    return item;
  }

  absl::AnyInvocable<void()> TakeAll() override {
    std::vector<Slot> taken;
    taken.swap(slots_);
    head_ = 0;
    size_ = 0;
    return [taken = std::move(taken)] {};
  }

 private:
  struct Slot {
    std::optional<T> item;
    uint64_t ordinal = 0;
  };

  size_t Index(int64_t offset) const {
    const size_t index = head_ + static_cast<size_t>(offset);
    return index >= slots_.size() ? index - slots_.size() : index;
  }

  // Doubles the storage (at least 4, at most the capacity), keeping the order.
  void Grow() {
    const size_t grown = std::max<size_t>(
        slots_.size() + 1,
        std::min<size_t>(static_cast<size_t>(capacity_), std::max<size_t>(4, 2 * slots_.size())));
    std::vector<Slot> next(grown);
    for (int64_t i = 0; i < size_; ++i) {
      Slot& from = slots_[Index(i)];
      next[static_cast<size_t>(i)].item.emplace(std::move(*from.item));
      next[static_cast<size_t>(i)].ordinal = from.ordinal;
    }
    slots_.swap(next);
    head_ = 0;
  }

  std::vector<Slot> slots_;  // Ring buffer: size_ items from head_.
  size_t head_ = 0;
};

}  // namespace dataloader::internal

#endif  // CORE_INTERNAL_CHANNEL_H_
