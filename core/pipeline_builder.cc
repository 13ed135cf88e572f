// Copyright 2026 The dataloader Authors.

#include "core/pipeline_builder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dataloader::internal {
namespace {

absl::Status Validate(const PipelineSpec& spec, const BuildOptions& options) {
  auto invalid = [](auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  for (size_t i = 0; i < spec.nodes.size(); ++i) {
    const NodeSpec& node = spec.nodes[i];
    if (node.kind == "stage") {
      if (node.concurrency < 0 || node.concurrency > kMaxConcurrency) {
        return invalid("stage '", node.name, "': concurrency must be 0 (automatic) or 1 to ",
                       kMaxConcurrency, ", got ", node.concurrency);
      }
      if (node.reorder_window < 0 || node.reorder_window > kMaxConcurrency) {
        return invalid("stage '", node.name,
                       "': reorder_window must be 0 (automatic: the concurrency) or 1 to ",
                       kMaxConcurrency, ", got ", node.reorder_window);
      }
    }
    if (node.max_failures < kUnlimitedFailures) {
      return invalid("stage '", node.name,
                     "': max_failures must be >= 0, or -1 (kUnlimitedFailures), got ",
                     node.max_failures);
    }
    if (node.kind == "aggregate" && (node.size < 1 || node.size > kMaxBatchSize)) {
      return invalid("Aggregate(): size must be 1 to ", kMaxBatchSize, ", got ", node.size);
    }
    if (node.kind == "assemble") {
      if (node.size < 1 || node.size > kMaxBatchSize) {
        return invalid("AssembleBatches(): size must be 1 to ", kMaxBatchSize, ", got ", node.size);
      }
      if (node.max_open_batches < 0 || node.max_open_batches > kMaxOpenBatches) {
        return invalid("AssembleBatches(): max_open_batches must be 0 (automatic) or 1 to ",
                       kMaxOpenBatches, ", got ", node.max_open_batches);
      }
      // Positions are the source's: every step before must keep one item per input.
      for (size_t j = 1; j < i; ++j) {
        if (spec.nodes[j].fans_out) {
          return invalid(
              "AssembleBatches(): every step between the source and it must give at "
              "most one item per input, but '",
              spec.nodes[j].name,
              "' may give several (a stage returning Many<U>, Aggregate() or "
              "Disaggregate())");
        }
      }
    }
  }
  if (spec.sink_size < 1 || spec.sink_size > kMaxBufferSize) {
    return invalid("AddSink(): buffer_size must be 1 to ", kMaxBufferSize, ", got ",
                   spec.sink_size);
  }
  if (options.num_threads < 0 || options.num_threads > kMaxThreads) {
    return invalid("num_threads must be 0 (one per core) or 1 to ", kMaxThreads, ", got ",
                   options.num_threads);
  }
  if (options.runtime != nullptr && options.num_threads != 0) {
    return invalid(
        "num_threads must be 0 when a shared runtime is given (its pool runs the "
        "pipeline), got ",
        options.num_threads);
  }
  if (options.max_failures < kUnlimitedFailures) {
    return invalid("max_failures must be >= 0, or -1 (kUnlimitedFailures), got ",
                   options.max_failures);
  }
  if (options.stats_callback && options.stats_interval <= absl::ZeroDuration()) {
    return invalid("stats_interval must be > 0 when stats_callback is set, got ",
                   absl::FormatDuration(options.stats_interval));
  }
  return absl::OkStatus();
}

// The values in effect for `spec` on a pool of `threads` threads.
NodeSetup Resolve(const NodeSpec& spec, int threads, Node* source) {
  NodeSetup setup{
      .concurrency = spec.concurrency, .max_open_batches = spec.max_open_batches, .source = source};
  if (spec.kind == "stage" && setup.concurrency == kAutomatic) {
    // A sync task needs a thread and frees its slot when done (in either order): one per
    // thread keeps every thread busy. An async op holds no thread while it waits.
    setup.concurrency = spec.async ? std::max(16, 4 * threads) : threads;
  }
  if (spec.kind == "assemble" && setup.max_open_batches == kAutomatic) {
    // Enough positions beyond the oldest batch for eight items per thread, so that the
    // others keep working while one item is slow.
    const int64_t beyond = (8 * int64_t{threads} + spec.size - 1) / spec.size;
    setup.max_open_batches = static_cast<int>(std::clamp<int64_t>(1 + beyond, 2, kMaxOpenBatches));
  }
  return setup;
}

}  // namespace

absl::StatusOr<BuiltCore> BuildCore(PipelineSpec spec, BuildOptions options) {
  if (absl::Status valid = Validate(spec, options); !valid.ok()) return valid;
  BuiltCore built;
  Runtime* runtime = options.runtime;
  if (runtime == nullptr) {
    absl::StatusOr<std::unique_ptr<Runtime>> owned =
        Runtime::Create({.num_threads = options.num_threads});
    if (!owned.ok()) return owned.status();
    built.owned_runtime = *std::move(owned);
    runtime = built.owned_runtime.get();
  }
  const int threads = runtime->pool().num_threads();
  built.core = std::make_shared<PipelineCore>(*runtime, options.max_failures);
  std::vector<std::unique_ptr<Node>> nodes;
  ChannelBase* input = nullptr;
  for (NodeSpec& node_spec : spec.nodes) {
    Node* source = nodes.empty() ? nullptr : nodes.front().get();
    nodes.push_back(node_spec.make(*built.core, input, Resolve(node_spec, threads, source)));
    input = &nodes.back()->output();
    if (node_spec.kind == "assemble") {
      // The source and the stages before it work within its window (see AssembleNode).
      auto* window = dynamic_cast<PositionWindow*>(nodes.back().get());
      for (size_t j = 0; j + 1 < nodes.size(); ++j) nodes[j]->set_position_window(window);
    }
  }
  built.core->SetNodes(std::move(nodes), spec.make_sink(spec.sink_size));
  if (options.stats_callback) {
    built.core->SetStatsCallback(std::move(options.stats_callback), options.stats_interval);
  }
  return built;
}

}  // namespace dataloader::internal
