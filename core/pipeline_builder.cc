// Copyright 2026 The dataloader Authors.

#include "core/pipeline_builder.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace dataloader::internal {
namespace {

absl::Status Validate(const PipelineSpec& spec, const BuildOptions& options) {
  auto invalid = [](auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  for (const NodeSpec& node : spec.nodes) {
    if (node.concurrency < 1) {
      return invalid("stage '", node.name, "': concurrency must be >= 1, got ", node.concurrency);
    }
    if (node.max_failures < kUnlimitedFailures) {
      return invalid("stage '", node.name,
                     "': max_failures must be >= 0, or -1 (kUnlimitedFailures), got ",
                     node.max_failures);
    }
    if (node.kind == "aggregate" && node.aggregate_size < 1) {
      return invalid("Aggregate(): size must be >= 1, got ", node.aggregate_size);
    }
  }
  if (spec.sink_size < 1)
    return invalid("AddSink(): buffer_size must be >= 1, got ", spec.sink_size);
  if (options.num_threads < 0) {
    return invalid("num_threads must be >= 0 (0 = one per core), got ", options.num_threads);
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
  built.core = std::make_shared<PipelineCore>(*runtime, options.max_failures);
  std::vector<std::unique_ptr<Node>> nodes;
  ChannelBase* input = nullptr;
  for (NodeSpec& node_spec : spec.nodes) {
    nodes.push_back(node_spec.make(*built.core, input));
    input = &nodes.back()->output();
  }
  built.core->SetNodes(std::move(nodes), spec.sink_size);
  if (options.stats_callback) {
    built.core->SetStatsCallback(std::move(options.stats_callback), options.stats_interval);
  }
  return built;
}

}  // namespace dataloader::internal
