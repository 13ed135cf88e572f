// Copyright 2026 The dataloader Authors.
//
// SinkQueue<T>: the consumer's side of a pipeline's sink, behind its own lock, so that taking
// an item never contends with scheduling.
//
// The last node pushes into an ordinary channel (the staging channel, under the core's lock);
// once per scheduling step the core moves what is there into this queue under this queue's
// lock (one lock and at most one wake-up of a waiting consumer per step, however many items).
// The wake-up itself comes after the core's lock is released, so that the woken consumer, or
// whoever the kernel runs instead of the waker, never finds the pipeline locked.
// Room is shared: items here and in the staging channel together never exceed the sink's
// capacity. When the sink is full the pipeline stops and marks itself `stalled`; the consumer
// restarts it only once it has taken the queue down to half its capacity (the low-water mark),
// so a consumer slower than the pipeline wakes it once per burst, not once per item.
//
// Thread-safe: the consumer and the core both lock `mu`; the core holds its own lock first.
#ifndef CORE_INTERNAL_SINK_QUEUE_H_
#define CORE_INTERNAL_SINK_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/internal/channel.h"
#include "core/mutex.h"

namespace dataloader::internal {

class SinkQueueBase {
 public:
  enum class End { kNone, kFinished, kFailed, kCancelled };

  explicit SinkQueueBase(int64_t capacity) : capacity_(capacity), low_water_(capacity / 2) {}
  virtual ~SinkQueueBase() = default;
  SinkQueueBase(const SinkQueueBase&) = delete;
  SinkQueueBase& operator=(const SinkQueueBase&) = delete;

  // --- Both sides. ---
  mutable Mutex mu;
  int64_t capacity() const { return capacity_; }
  // Items taken by the consumer so far. Written under `mu`; the core reads it without `mu`
  // for a conservative estimate of the room (it only grows).
  int64_t taken() const { return taken_.load(std::memory_order_acquire); }

  // --- The consumer. ---
  virtual int64_t SizeLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
  // An item can be taken now.
  bool CanTakeLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return end_ != End::kCancelled && SizeLocked() > 0;
  }
  // The consumer would not wait: an item or the end is here.
  bool ReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return end_ != End::kNone || SizeLocked() > 0;
  }
  // Waits until the core notifies (items published, the end, a stall) or `deadline`; returns
  // false at the deadline. The caller checks the queue again either way.
  bool AwaitNotifiedLocked(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    notified_ = false;
    ++waiting_;
    const bool notified = mu.AwaitWithDeadline(absl::Condition(&notified_), deadline);
    --waiting_;
    return notified;
  }
  // When nothing can be taken and the pipeline ended: OutOfRange after a clean end, else the
  // pipeline's error (Cancelled after Cancel()/Stop()).
  absl::Status EndStatusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (end_ == End::kFinished) return absl::OutOfRangeError("end of pipeline");
    if (end_ == End::kNone) return absl::FailedPreconditionError("pipeline has not ended");
    return absl::Status(end_status_.code(), std::string(end_status_.message()));
  }
  // After popping an item: counts it; returns true if the consumer must now restart the
  // pipeline (it stalled on this queue, which is down to its low-water mark).
  bool OnTakenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    taken_.store(taken_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    return TakeStallLocked(SizeLocked() <= low_water_);
  }
  // Clears `stalled` and returns whether it was set (and `allowed`).
  bool TakeStallLocked(bool allowed = true) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!stalled_ || !allowed) return false;
    stalled_ = false;
    return true;
  }

  // --- The core. ---
  // Wakes the consumers waiting in AwaitNotifiedLocked(). Called without the core's lock:
  // the woken thread must not find it held (see PipelineCore::CoreLock).
  void Notify() {
    MutexLock lock(&mu);
    notified_ = true;
  }
  // --- The core, holding its own lock too. ---
  bool ConsumerWaitingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return waiting_ > 0; }
  // Moves every item of `staging` (a Channel<T> of the same T) here.
  virtual int64_t MoveFromLocked(ChannelBase& staging) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
  // Empties the queue; the returned owner destroys the items (see ChannelBase::TakeAll).
  virtual absl::AnyInvocable<void()> TakeAllLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
  // Both wake the consumer at once (rare events).
  void SetStalledLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    stalled_ = true;
    notified_ = true;
  }
  void SetEndLocked(End end, absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (end_ != End::kNone) return;
    end_ = end;
    end_status_ = std::move(status);
    notified_ = true;
  }

 private:
  const int64_t capacity_;
  const int64_t low_water_;
  std::atomic<int64_t> taken_{0};
  End end_ ABSL_GUARDED_BY(mu) = End::kNone;
  absl::Status end_status_ ABSL_GUARDED_BY(mu);
  bool stalled_ ABSL_GUARDED_BY(mu) = false;
  int waiting_ ABSL_GUARDED_BY(mu) = 0;  // Consumers in AwaitNotifiedLocked().
  bool notified_ ABSL_GUARDED_BY(mu) = false;
};

template <typename T>
class SinkQueue final : public SinkQueueBase {
 public:
  explicit SinkQueue(int64_t capacity) : SinkQueueBase(capacity) { items_.SetCapacity(capacity); }

  int64_t SizeLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return items_.size(); }
  T PopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return items_.Pop(); }

  int64_t MoveFromLocked(ChannelBase& staging) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto& from = static_cast<Channel<T>&>(staging);
    int64_t moved = 0;
    uint64_t ordinal = 0;
    while (!from.empty()) {
      T item = from.Pop(&ordinal);
      items_.Push(std::move(item), ordinal);
      ++moved;
    }
    return moved;
  }
  absl::AnyInvocable<void()> TakeAllLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return items_.TakeAll();
  }

 private:
  Channel<T> items_ ABSL_GUARDED_BY(mu);
};

}  // namespace dataloader::internal

#endif  // CORE_INTERNAL_SINK_QUEUE_H_
