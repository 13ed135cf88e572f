// Copyright 2026 The dataloader Authors.
//
// Pipeline<T>: a running (or ready to run) pipeline whose sink yields items of type T.
// Made by PipelineBuilder::Build().
//
//   absl::StatusOr<std::unique_ptr<Pipeline<Batch>>> pipeline = ...Build({.num_threads = 4});
//   for (Batch& batch : **pipeline) Train(batch);            // range-for: stops at end or error
//   if (absl::Status s = (*pipeline)->status(); !s.ok()) ... // why it stopped
//
//   while (true) {                                           // or explicitly
//     absl::StatusOr<Batch> batch = pipeline->Next();        // blocks
//     if (absl::IsOutOfRange(batch.status())) break;         // clean end
//     if (!batch.ok()) return batch.status();                // failure or cancel
//   }
//
// Reactors that must never block use TryNext() and NotifyWhenReady().
//
// Thread-safe: any method may be called from any thread, except that Stop() and the destructor
// must not race with each other. Next(), GetItem(), TryNext() and begin() start the pipeline
// if Start() was not called. Destroying a pipeline stops it (see Stop()).
#ifndef CORE_PIPELINE_H_
#define CORE_PIPELINE_H_

#include <iterator>
#include <memory>
#include <optional>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/internal/pipeline_core.h"
#include "core/internal/sink_queue.h"
#include "core/mutex.h"
#include "core/pipeline_stats.h"
#include "core/runtime.h"

namespace dataloader {

template <typename T, bool kHasSink>
class PipelineBuilder;

template <typename T>
class Pipeline {
 public:
  // Stops the pipeline (as Stop()), then releases its threads if it owns them.
  ~Pipeline() { core_->Stop().IgnoreError(); }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Starts pulling from the source. Idempotent.
  void Start() { core_->Start(); }

  // The next item; blocks until one is ready. OutOfRange at the clean end; the pipeline's error
  // if it failed (a stage beyond its failure budget, a failing source), after the items that
  // reached the sink before the failure; Cancelled after Cancel() or Stop().
  absl::StatusOr<T> Next() { return NextUntil(absl::InfiniteFuture()); }
  // As Next(), but DeadlineExceeded if nothing is ready within `timeout`.
  absl::StatusOr<T> GetItem(absl::Duration timeout) { return NextUntil(absl::Now() + timeout); }
  // Never blocks: an item, std::nullopt if none is ready yet, or the end status as Next().
  absl::StatusOr<std::optional<T>> TryNext();
  // Calls `callback` once, on the event loop, when TryNext() would not return std::nullopt
  // (at once if that is already so). The callback must not block. Callbacks still pending when
  // the pipeline stops are destroyed without being called.
  void NotifyWhenReady(absl::AnyInvocable<void()> callback) {
    core_->Start();
    core_->NotifyWhenReady(std::move(callback));
  }

  // Asks the pipeline to stop: no new task starts, queued items are dropped, the consumer gets
  // Cancelled, long stage functions see TaskContext::IsCancelled(). Non-blocking.
  void Cancel() { core_->Cancel(); }
  // Cancels (if not ended) and waits until no stage function, source pull or callback of this
  // pipeline is running: returns within the longest running call. Returns the final status:
  // OK after a clean end, else the failure or Cancelled. Idempotent.
  absl::Status Stop() { return core_->Stop(); }
  // Stop() for reactors and callbacks, which must never wait on user code: cancels (if not
  // ended) and returns at once. Once no stage function, source pull or callback of this
  // pipeline runs, it calls `done` on the event loop; from then on none runs, and `done` may
  // destroy the pipeline (a pipeline on a shared Runtime). A call that never returns means
  // `done` is never called. At most once per pipeline.
  void StopAsync(absl::AnyInvocable<void()> done) { core_->StopAsync(std::move(done)); }
  // OK while running or after a clean end; the error once failed or cancelled.
  absl::Status status() const { return core_->status(); }
  // A consistent snapshot; cheap enough to call every second.
  PipelineStats Stats() const { return core_->Stats(); }

  // Range-for support: a single-pass input iterator over the remaining items.
  class Iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    T& operator*() const { return *current_; }
    T* operator->() const { return &*current_; }
    Iterator& operator++() {
      Advance();
      return *this;
    }
    void operator++(int) { Advance(); }
    bool operator==(std::default_sentinel_t) const { return !current_.has_value(); }

   private:
    friend class Pipeline;
    explicit Iterator(Pipeline* pipeline) : pipeline_(pipeline) { Advance(); }
    void Advance() {
      absl::StatusOr<T> item = pipeline_->Next();
      if (item.ok()) {
        current_.emplace(*std::move(item));
      } else {
        current_.reset();
      }
    }
    Pipeline* pipeline_ = nullptr;
    mutable std::optional<T> current_;
  };
  Iterator begin() { return Iterator(this); }
  std::default_sentinel_t end() { return std::default_sentinel; }

 private:
  template <typename, bool>
  friend class PipelineBuilder;

  Pipeline(std::unique_ptr<Runtime> owned_runtime, std::shared_ptr<internal::PipelineCore> core)
      : owned_runtime_(std::move(owned_runtime)),
        core_(std::move(core)),
        queue_(static_cast<internal::SinkQueue<T>*>(&core_->sink_queue())) {}

  absl::StatusOr<T> NextUntil(absl::Time deadline);

  // Declared first, destroyed last: the core's pending work may still reference it.
  std::unique_ptr<Runtime> owned_runtime_;
  std::shared_ptr<internal::PipelineCore> core_;
  // The consumer's side of the sink: taking an item locks only this (see SinkQueue).
  internal::SinkQueue<T>* const queue_;
};

template <typename T>
absl::StatusOr<T> Pipeline<T>::NextUntil(absl::Time deadline) {
  core_->Start();
  while (true) {
    std::optional<absl::StatusOr<T>> result;
    bool restart = false;
    {
      MutexLock lock(&queue_->mu);
      if (queue_->CanTakeLocked()) {
        result.emplace(queue_->PopLocked());
        restart = queue_->OnTakenLocked();
      } else if (queue_->ReadyLocked()) {
        result.emplace(queue_->EndStatusLocked());
      } else if (!queue_->TakeStallLocked()) {
        if (!queue_->AwaitNotifiedLocked(deadline) && !queue_->ReadyLocked()) {
          return absl::DeadlineExceededError("no item ready before the deadline");
        }
        continue;
      } else {
        restart = true;  // Stalled with nothing left: restart it, then wait.
      }
    }
    // Outside the queue's lock: the core takes its own lock first, then the queue's.
    if (restart) core_->Restart();
    if (result.has_value()) return *std::move(result);
  }
}

template <typename T>
absl::StatusOr<std::optional<T>> Pipeline<T>::TryNext() {
  core_->Start();
  std::optional<T> item;
  absl::Status end;
  bool restart = false;
  {
    MutexLock lock(&queue_->mu);
    if (queue_->CanTakeLocked()) {
      item.emplace(queue_->PopLocked());
      restart = queue_->OnTakenLocked();
    } else if (queue_->ReadyLocked()) {
      end = queue_->EndStatusLocked();
    } else {
      restart = queue_->TakeStallLocked();
    }
  }
  if (restart) core_->Restart();
  if (!end.ok()) return end;
  return item;
}

}  // namespace dataloader

#endif  // CORE_PIPELINE_H_
