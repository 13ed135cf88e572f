// Copyright 2026 The dataloader Authors.
//
// What a stage function may take and return.
//
// Synchronous (PipelineBuilder::Pipe), run on the pipeline's thread pool:
//   U    fn(T input)                          one output per input
//   U    fn(T input, const TaskContext& ctx)  the same, with cancellation and the event loop
// where the return type says how many outputs an input gives, and may carry an error:
//   U                          exactly one
//   std::optional<U>           zero or one: std::nullopt drops the item (a filter)
//   Many<U>                    zero or more (one-to-many)
//   absl::StatusOr<any above>  an error fails the item: it is dropped and counted
// A thrown exception also fails the item.
//
// Natively asynchronous (PipelineBuilder::PipeAsync), started on the event loop, holding no
// thread while waiting:
//   void fn(T input, Completion<R> done)
//   void fn(T input, Completion<R> done, const TaskContext& ctx)
// The op must not block; it calls `done(result)` exactly once, from any thread, with an
// absl::StatusOr<R> where R follows the same conventions (U, std::optional<U>, Many<U>).
//
// An error fails its item only, unless marked with EndsPipeline(error): then it ends the whole
// pipeline with that error (for a condition every later item would meet too, such as a store
// that went away), whatever the failure budgets.
//
//   .PipeAsync([](int x, Completion<int> done, const TaskContext& ctx) {
//     ctx.loop().RunAfter(absl::Milliseconds(10),
//                         [x, done = std::move(done)]() mutable { done(x * 2); });
//   }, {.concurrency = 64})
#ifndef CORE_STAGE_FUNCTION_H_
#define CORE_STAGE_FUNCTION_H_

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "core/cancellation.h"
#include "core/event_loop.h"

namespace dataloader {

// Marks a stage error (not OK) so that it ends the pipeline instead of failing only its item.
// The pipeline then ends with the same code and message, prefixed with "stage '<name>': ";
// the items already in the sink are still delivered. Use it for errors no later item can
// escape (a store that stopped answering after the retries), not for bad items.
inline absl::Status EndsPipeline(absl::Status error) {
  error.SetPayload("dataloader/ends-pipeline", absl::Cord("1"));
  return error;
}
inline bool IsPipelineEnding(const absl::Status& status) {
  return !status.ok() && status.GetPayload("dataloader/ends-pipeline").has_value();
}

// Zero or more outputs of one stage call.
template <typename T>
struct Many {
  std::vector<T> items;
};

// What a stage function may use besides its input. Valid for the duration of the call.
class TaskContext {
 public:
  TaskContext(const CancellationToken& token, EventLoop& loop, const std::string& stage_name)
      : token_(token), loop_(loop), stage_name_(stage_name) {}

  // True once the pipeline is cancelled, stopped or failed: a long function should return
  // early (any value; it is discarded).
  bool IsCancelled() const { return token_.IsCancelled(); }
  const CancellationToken& token() const { return token_; }
  // The pipeline's event loop, for timers and callbacks of asynchronous ops.
  EventLoop& loop() const { return loop_; }
  const std::string& stage_name() const { return stage_name_; }

 private:
  const CancellationToken& token_;
  EventLoop& loop_;
  const std::string& stage_name_;
};

// The one-shot callback an asynchronous op calls with its result. Move-only. Calling it more
// than once is ignored; destroying it uncalled fails the item with an Internal error (the op
// broke its contract) unless the pipeline already ended.
template <typename R>
class Completion {
 public:
  using Deliver = absl::AnyInvocable<void(absl::StatusOr<R>)>;

  // Made by the pipeline; public for tests of async ops.
  explicit Completion(Deliver deliver) : state_(std::make_shared<State>(std::move(deliver))) {}
  Completion(Completion&&) noexcept = default;
  Completion& operator=(Completion&&) noexcept = default;
  ~Completion() {
    if (state_ != nullptr) {
      state_->Run(absl::InternalError("async op destroyed its completion without calling it"));
    }
  }

  void operator()(absl::StatusOr<R> result) {
    if (state_ != nullptr) state_->Run(std::move(result));
  }

  struct State {
    explicit State(Deliver d) : deliver(std::move(d)) {}
    void Run(absl::StatusOr<R> result) {
      if (!called.exchange(true)) deliver(std::move(result));
    }
    Deliver deliver;
    std::atomic<bool> called{false};
  };

  // Internal: a handle that can still complete the op if the op's start function throws
  // after taking the completion. Not part of the API.
  std::shared_ptr<State> internal_state() const { return state_; }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace dataloader

#endif  // CORE_STAGE_FUNCTION_H_
