// Copyright 2026 The dataloader Authors.
//
// PipelineBuilder: describes a pipeline step by step, then builds it.
//
//   absl::StatusOr<std::unique_ptr<Pipeline<std::vector<Image>>>> pipeline =
//       PipelineBuilder<>()
//           .AddSource(paths)                                        // any range or generator
//           .Pipe(ReadFile, {.concurrency = 8, .name = "read"})      // sync, on the pool
//           .Pipe(Decode, {.concurrency = 4, .name = "decode",
//                          .output_order = OutputOrder::kInput})
//           .Aggregate(32)                                           // std::vector<Image>
//           .AddSink(4)
//           .Build({.num_threads = 4});
//
// The item type travels with the builder, so a stage that cannot take the previous stage's
// output does not compile, with a static_assert message saying so. Build() validates the
// values (within the limits in pipeline_options.h) and returns InvalidArgument naming the stage,
// the value and the limit. Each step consumes the builder (call them on a temporary, as above).
//
// For exact batches without idle threads, run the stages in completion order and assemble
// batches by position: .Pipe(Decode, {.concurrency = kAutomatic}).AssembleBatches(32) (see
// AssembleBatches()).
//
// Thread-compatible.
#ifndef CORE_PIPELINE_BUILDER_H_
#define CORE_PIPELINE_BUILDER_H_

#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/assembled_batch.h"
#include "core/internal/assemble_node.h"
#include "core/internal/batch_nodes.h"
#include "core/internal/node.h"
#include "core/internal/pipeline_core.h"
#include "core/internal/sink_queue.h"
#include "core/internal/source_node.h"
#include "core/internal/stage_node.h"
#include "core/internal/stage_traits.h"
#include "core/pipeline.h"
#include "core/pipeline_options.h"
#include "core/runtime.h"
#include "core/stage_function.h"

namespace dataloader {
namespace internal {

// What Build() resolved for a node: automatic values made concrete, and the links a node needs.
struct NodeSetup {
  int concurrency = 1;       // Stages: the concurrency in effect.
  int max_open_batches = 0;  // AssembleBatches(): the window in effect.
  Node* source = nullptr;    // The pipeline's source node (for AssembleBatches()).
};

// One step as described, made into a Node by Build().
struct NodeSpec {
  // "source", "stage", "aggregate", "disaggregate", "assemble": for checks and error messages.
  std::string kind;
  std::string name;
  int concurrency = 1;  // Stages; 0 = automatic.
  int reorder_window = 0;
  bool async = false;
  // May emit several items for one input (a stage returning Many<U>, Disaggregate()): items
  // after it no longer have their source item's position.
  bool fans_out = false;
  int64_t max_failures = kUnlimitedFailures;
  int size = 1;              // Aggregate(), AssembleBatches().
  int max_open_batches = 0;  // AssembleBatches(); 0 = automatic.
  absl::AnyInvocable<std::unique_ptr<Node>(PipelineCore&, ChannelBase* input, const NodeSetup&)>
      make;
};

struct PipelineSpec {
  std::vector<NodeSpec> nodes;
  int64_t sink_size = 0;
  absl::AnyInvocable<std::unique_ptr<SinkQueueBase>(int64_t capacity)> make_sink;
};

struct BuiltCore {
  std::unique_ptr<Runtime> owned_runtime;
  std::shared_ptr<PipelineCore> core;
};

// Validates `spec` and `options`, then makes the runtime (unless shared), the core and nodes.
absl::StatusOr<BuiltCore> BuildCore(PipelineSpec spec, BuildOptions options);

}  // namespace internal

template <typename T = void, bool kHasSink = false>
class PipelineBuilder {
 public:
  PipelineBuilder() : spec_(std::make_unique<internal::PipelineSpec>()) {
    static_assert(std::is_void_v<T>, "start a pipeline with PipelineBuilder<>()");
  }

  // The source: a range (container or view; an owned container's elements are moved out) or a
  // callable returning std::optional<T> (std::nullopt ends it) or
  // absl::StatusOr<std::optional<T>> (an error ends the pipeline with that error).
  // Pulled on the thread pool, one pull at a time.
  template <typename Source>
  auto AddSource(Source source, SourceOptions options = {}) && {
    using Item = typename internal::SourceItem<Source>::type;
    constexpr bool kFits = std::is_void_v<T> && !std::is_void_v<Item>;
    if constexpr (!kFits) {
      static_assert(std::is_void_v<T>, "AddSource(): a pipeline has one source, added first");
      static_assert(!std::is_void_v<Item>,
                    "AddSource(): the source must be a range (container or view) or a callable "
                    "returning std::optional<T> or absl::StatusOr<std::optional<T>>");
    } else {
      std::string name = options.name.empty() ? "source" : options.name;
      using Puller = internal::SourcePuller<Source>;
      spec_->nodes.push_back(internal::NodeSpec{
          .kind = "source",
          .name = name,
          .make = [name, puller = Puller(std::move(source))](
                      internal::PipelineCore& core, internal::ChannelBase*,
                      const internal::NodeSetup&) mutable -> std::unique_ptr<internal::Node> {
            return std::make_unique<internal::SourceNode<Puller>>(core, name, std::move(puller));
          }});
      return PipelineBuilder<Item, false>(std::move(spec_));
    }
  }

  // A synchronous stage run on the thread pool; see stage_function.h for what `fn` may take
  // and return. At most `options.concurrency` tasks of it are scheduled at once.
  template <typename F>
  auto Pipe(F fn, StageOptions options = {}) && {
    constexpr bool kFits = CanAddStage() && internal::kIsSyncStageFn<F, T>;
    if constexpr (!kFits) {
      StaticAssertCanAddStage("Pipe()");
      static_assert(internal::kIsSyncStageFn<F, T>,
                    "Pipe(): the stage function cannot take the previous stage's output type T: "
                    "it must be callable as fn(T) or fn(T, const TaskContext&)");
    } else {
      using R = internal::SyncResult<F, T>;
      if constexpr (std::is_void_v<R>) {
        static_assert(!std::is_void_v<R>,
                      "Pipe(): the stage function must return its output (std::optional<U> to "
                      "filter, Many<U> for several, absl::StatusOr<...> to fail an item)");
      } else {
        using Out = internal::OutputItem<R>;
        std::string name = StageName(options.name, "pipe");
        auto call = [fn = std::move(fn), where = absl::StrCat("stage '", name, "'")](
                        T&& input, const TaskContext& context) mutable {
          try {
            return internal::ToOutcome(internal::CallSync(fn, std::move(input), context));
          } catch (...) {
            internal::Outcome<Out> failed;
            failed.status = internal::ExceptionStatus(where);
            return failed;
          }
        };
        return std::move(*this).template AddStage<Out, decltype(call), false>(
            std::move(name), options, internal::kFansOut<R>, std::move(call));
      }
    }
  }

  // A natively asynchronous stage: `op(input, Completion<R> done[, const TaskContext&])` starts
  // on the event loop, must not block, and calls `done` later from any thread. It holds no
  // pool thread while it waits. R is read from the op's signature, or given: PipeAsync<R>(op).
  template <typename R = void, typename F>
  auto PipeAsync(F op, StageOptions options = {}) && {
    using Result =
        std::conditional_t<std::is_void_v<R>, typename internal::DeducedAsyncResult<F>::type, R>;
    constexpr bool kFits =
        CanAddStage() && !std::is_void_v<Result> && internal::kIsAsyncStageFn<F, T, Result>;
    if constexpr (!kFits) {
      StaticAssertCanAddStage("PipeAsync()");
      static_assert(!std::is_void_v<Result>,
                    "PipeAsync(): cannot read R from the op's Completion<R> parameter (a generic "
                    "lambda?); name it: PipeAsync<R>(op)");
      static_assert(std::is_void_v<Result> || internal::kIsAsyncStageFn<F, T, Result>,
                    "PipeAsync(): the op cannot take the previous stage's output type T: it "
                    "must be callable as op(T, Completion<R>) or op(T, Completion<R>, "
                    "const TaskContext&)");
    } else {
      using Out = internal::OutputItem<Result>;
      std::string name = StageName(options.name, "pipe_async");
      auto call = [op = std::move(op), where = absl::StrCat("async op of stage '", name, "'")](
                      T&& input, const TaskContext& context,
                      absl::AnyInvocable<void(internal::Outcome<Out>)> finish) mutable {
        Completion<Result> done([finish = std::move(finish)](absl::StatusOr<Result> r) mutable {
          finish(internal::ToOutcome(std::move(r)));
        });
        auto state = done.internal_state();
        try {
          if constexpr (internal::kAsyncTakesContext<F, T, Result>) {
            op(std::move(input), std::move(done), context);
          } else {
            op(std::move(input), std::move(done));
          }
        } catch (...) {
          state->Run(internal::ExceptionStatus(where));  // Ignored if the op completed first.
        }
      };
      return std::move(*this).template AddStage<Out, decltype(call), true>(
          std::move(name), options, internal::kFansOut<Result>, std::move(call));
    }
  }

  // Groups items into std::vector<T> batches of `size`; the last batch may be smaller unless
  // `options.drop_last`.
  auto Aggregate(int size, AggregateOptions options = {}) && {
    if constexpr (!CanAddStage()) {
      StaticAssertCanAddStage("Aggregate()");
    } else {
      std::string name = absl::StrCat("aggregate(", size, ")");
      spec_->nodes.push_back(internal::NodeSpec{
          .kind = "aggregate",
          .name = name,
          .fans_out = true,
          .size = size,
          .make = [name, size, drop_last = options.drop_last](
                      internal::PipelineCore& core, internal::ChannelBase* input,
                      const internal::NodeSetup&) -> std::unique_ptr<internal::Node> {
            return std::make_unique<internal::AggregateNode<T>>(core, input, name, size, drop_last);
          }});
      return PipelineBuilder<std::vector<T>, false>(std::move(spec_));
    }
  }

  // Splits each item (a range, such as the std::vector<U> Aggregate() makes) into its
  // elements.
  auto Disaggregate() && {
    if constexpr (!CanAddStage() || !std::ranges::input_range<T>) {
      StaticAssertCanAddStage("Disaggregate()");
      static_assert(std::ranges::input_range<T>,
                    "Disaggregate(): the previous stage's output must be a range of items, "
                    "such as the std::vector<T> that Aggregate() makes");
    } else {
      using Item = std::ranges::range_value_t<T>;
      spec_->nodes.push_back(internal::NodeSpec{
          .kind = "disaggregate",
          .name = "disaggregate",
          .fans_out = true,
          .make = [](internal::PipelineCore& core, internal::ChannelBase* input,
                     const internal::NodeSetup&) -> std::unique_ptr<internal::Node> {
            return std::make_unique<internal::DisaggregateNode<T>>(core, input, "disaggregate");
          }});
      return PipelineBuilder<Item, false>(std::move(spec_));
    }
  }

  // Groups items into batches of `size` by position: batch k holds the outputs of source items
  // k*size .. k*size+size-1, in that order, and batches leave in sequence, whatever order the
  // stages before finished in (run them in completion order: nothing waits for a slow item but
  // memory). An item that fails or is filtered out leaves its position empty (the batch is one
  // smaller; nothing shifts). The source issues an item only when its batch is among the
  // `options.max_open_batches` oldest not yet passed on, so at most that many batches are held
  // (see AssembleOptions). Every step between the source and this one must give at most one
  // item per input (no Many<U> stage, Aggregate() or Disaggregate()); Build() checks it.
  auto AssembleBatches(int size, AssembleOptions options = {}) && {
    if constexpr (!CanAddStage()) {
      StaticAssertCanAddStage("AssembleBatches()");
    } else {
      std::string name = absl::StrCat("assemble(", size, ")");
      spec_->nodes.push_back(internal::NodeSpec{
          .kind = "assemble",
          .name = name,
          .fans_out = true,
          .size = size,
          .max_open_batches = options.max_open_batches,
          .make = [name, size, drop_last = options.drop_last](
                      internal::PipelineCore& core, internal::ChannelBase* input,
                      const internal::NodeSetup& setup) -> std::unique_ptr<internal::Node> {
            return std::make_unique<internal::AssembleNode<T>>(
                core, input, name, size, setup.max_open_batches, drop_last, *setup.source);
          }});
      return PipelineBuilder<AssembledBatch<T>, false>(std::move(spec_));
    }
  }

  // The last step: the sink holds up to `buffer_size` finished items for the consumer.
  auto AddSink(int buffer_size) && {
    if constexpr (!CanAddStage()) {
      StaticAssertCanAddStage("AddSink()");
    } else {
      spec_->sink_size = buffer_size;
      spec_->make_sink = [](int64_t capacity) -> std::unique_ptr<internal::SinkQueueBase> {
        return std::make_unique<internal::SinkQueue<T>>(capacity);
      };
      return PipelineBuilder<T, true>(std::move(spec_));
    }
  }

  // Validates every value and makes the pipeline (not started). InvalidArgument names the bad
  // value and its stage.
  absl::StatusOr<std::unique_ptr<Pipeline<T>>> Build(BuildOptions options = {}) && {
    static_assert(kHasSink, "Build(): call AddSink(buffer_size) first");
    absl::StatusOr<internal::BuiltCore> built =
        internal::BuildCore(std::move(*spec_), std::move(options));
    if (!built.ok()) return built.status();
    return std::unique_ptr<Pipeline<T>>(
        new Pipeline<T>(std::move(built->owned_runtime), std::move(built->core)));
  }

 private:
  template <typename, bool>
  friend class PipelineBuilder;

  explicit PipelineBuilder(std::unique_ptr<internal::PipelineSpec> spec) : spec_(std::move(spec)) {}

  static constexpr bool CanAddStage() { return !std::is_void_v<T> && !kHasSink; }
  static constexpr void StaticAssertCanAddStage(const char*) {
    static_assert(!std::is_void_v<T>, "add the source first: PipelineBuilder<>().AddSource(...)");
    static_assert(!kHasSink, "AddSink() must be the last step before Build()");
  }

  std::string StageName(const std::string& given, const char* prefix) const {
    return given.empty() ? absl::StrCat(prefix, spec_->nodes.size()) : given;
  }

  template <typename Out, typename Call, bool kAsync>
  auto AddStage(std::string name, const StageOptions& options, bool fans_out, Call call) && {
    spec_->nodes.push_back(internal::NodeSpec{
        .kind = "stage",
        .name = name,
        .concurrency = options.concurrency,
        .reorder_window = options.reorder_window,
        .async = kAsync,
        .fans_out = fans_out,
        .max_failures = options.max_failures,
        .make = [name, options, fans_out, call = std::move(call)](
                    internal::PipelineCore& core, internal::ChannelBase* input,
                    const internal::NodeSetup& setup) mutable -> std::unique_ptr<internal::Node> {
          StageOptions resolved = options;
          resolved.concurrency = setup.concurrency;
          return std::make_unique<internal::StageNode<T, Out, Call, kAsync>>(
              core, input, name, resolved, fans_out, std::move(call));
        }});
    return PipelineBuilder<Out, false>(std::move(spec_));
  }

  std::unique_ptr<internal::PipelineSpec> spec_;
};

}  // namespace dataloader

#endif  // CORE_PIPELINE_BUILDER_H_
