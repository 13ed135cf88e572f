// Copyright 2026 The dataloader Authors.

#include "server/pipeline/stream_pipeline.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/pipeline_builder.h"
#include "server/pipeline/epoch_plan.h"

namespace dataloader::server {
namespace {

// What flows between source and group: a sample (or its dataset index before loading), or
// the marker that closes batch `sequence`.
struct StreamItem {
  int64_t sequence = 0;
  bool end_of_batch = false;
  int64_t index = 0;
  Sample sample;
};

struct SampleGroup {
  int64_t sequence = 0;
  std::vector<Sample> samples;
};

std::string ShapeText(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::StatusOr<CollatedBatch> Collate(SampleGroup group, uint64_t epoch) {
  CollatedBatch batch;
  batch.sequence = group.sequence;
  batch.epoch = epoch;
  const int64_t n = static_cast<int64_t>(group.samples.size());
  for (const Sample& sample : group.samples) batch.sample_ids.push_back(sample.index);
  if (n == 0) return batch;  // Every sample failed: an empty batch keeps the sequence whole.
  const Sample& first = group.samples[0];
  for (size_t t = 0; t < first.tensors.size(); ++t) {
    const Tensor& model = first.tensors[t];
    BatchTensor& out = batch.tensors.emplace_back();
    out.name = model.name;
    out.dtype = model.dtype;
    out.shape.push_back(n);
    out.shape.insert(out.shape.end(), model.shape.begin(), model.shape.end());
    // reserve + append: one copy of each sample, no zero-fill of the batch first.
    out.data.reserve(model.data.size() * static_cast<size_t>(n));
    for (const Sample& sample : group.samples) {
      const Tensor* tensor = t < sample.tensors.size() ? &sample.tensors[t] : nullptr;
      if (tensor == nullptr || tensor->name != model.name || tensor->dtype != model.dtype ||
          tensor->shape != model.shape) {
        return absl::InvalidArgumentError(
            absl::StrCat("collate: sample ", sample.index, " does not match sample ", first.index,
                         " in tensor '", model.name, "' (", DTypeName(model.dtype), " ",
                         ShapeText(model.shape), "); batches need equal names, dtypes and shapes"));
      }
      out.data.append(reinterpret_cast<const char*>(tensor->data.data()), tensor->data.size());
    }
  }
  return batch;
}

struct BuiltStages {
  std::vector<std::shared_ptr<const Op>> ops;
};

absl::StatusOr<BuiltStages> MakeOps(const PipelineDefinition& definition,
                                    const OpRegistry& registry) {
  BuiltStages built;
  for (const StageDefinition& stage : definition.stages) {
    absl::StatusOr<std::unique_ptr<Op>> op =
        registry.Create(stage.op, stage.args, definition.dataset->root());
    if (!op.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("pipeline '", definition.name, "': ", op.status().message()));
    }
    built.ops.push_back(*std::move(op));
  }
  return built;
}

absl::Status ValidateSizes(const PipelineDefinition& definition) {
  auto invalid = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat("pipeline '", definition.name, "': ", parts...));
  };
  if (definition.batch_size < 1)
    return invalid("batch_size must be >= 1, got ", definition.batch_size);
  if (definition.load_concurrency < 1) {
    return invalid("load_concurrency must be >= 1, got ", definition.load_concurrency);
  }
  if (definition.sink_buffer < 1)
    return invalid("sink_buffer must be >= 1, got ", definition.sink_buffer);
  for (const StageDefinition& stage : definition.stages) {
    if (stage.concurrency < 1) {
      return invalid("stage '", stage.name.empty() ? stage.op : stage.name,
                     "': concurrency must be >= 1, got ", stage.concurrency);
    }
  }
  if (definition.dataset == nullptr) return invalid("no dataset");
  return absl::OkStatus();
}

absl::StatusOr<EpochPlan> MakePlan(const PipelineDefinition& definition,
                                   const StreamRequest& request) {
  return EpochPlan::Create({.num_samples = definition.dataset->size(),
                            .batch_size = definition.batch_size,
                            .drop_last = definition.drop_last,
                            .shuffle = definition.shuffle,
                            .seed = request.seed,
                            .epoch = request.epoch,
                            .shard_index = request.shard_index,
                            .shard_count = request.shard_count});
}

}  // namespace

absl::Status ValidatePipelineDefinition(const PipelineDefinition& definition,
                                        const OpRegistry& registry) {
  if (absl::Status sizes = ValidateSizes(definition); !sizes.ok()) return sizes;
  return MakeOps(definition, registry).status();
}

absl::StatusOr<int64_t> BatchesPerShard(const PipelineDefinition& definition,
                                        const StreamRequest& request) {
  absl::StatusOr<EpochPlan> plan = MakePlan(definition, request);
  if (!plan.ok()) return plan.status();
  return plan->batches();
}

absl::StatusOr<std::unique_ptr<Pipeline<CollatedBatch>>> BuildStreamPipeline(
    const PipelineDefinition& definition, const StreamRequest& request, Runtime& runtime,
    const OpRegistry& registry, std::shared_ptr<FailureReporter> failures) {
  if (absl::Status sizes = ValidateSizes(definition); !sizes.ok()) return sizes;
  absl::StatusOr<EpochPlan> plan = MakePlan(definition, request);
  if (!plan.ok()) return plan.status();
  if (request.start_sequence < 0 || request.start_sequence > plan->batches()) {
    return absl::InvalidArgumentError(absl::StrCat("start batch must be in [0, ", plan->batches(),
                                                   "], got ", request.start_sequence));
  }
  if (request.max_batches < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batches must be >= 0 (0 = to the end), got ", request.max_batches));
  }
  absl::StatusOr<BuiltStages> stages = MakeOps(definition, registry);
  if (!stages.ok()) return stages.status();
  std::shared_ptr<const Dataset> dataset = definition.dataset;
  // Failed samples are named (reported), not only counted: failure_reporter.h.
  StageFailureLabels failure_labels(std::move(failures));
  StageFailures load_failures = failure_labels.Next("load");

  // Compared as remaining batches: start_sequence + max_batches may overflow.
  const int64_t end =
      request.max_batches == 0 || request.max_batches >= plan->batches() - request.start_sequence
          ? plan->batches()
          : request.start_sequence + request.max_batches;
  // The source walks the plan batch by batch, from start_sequence: nothing before it is
  // computed. Each batch's samples are followed by its marker.
  struct Cursor {
    EpochPlan plan;
    int64_t sequence;
    int64_t end;
    std::vector<int64_t> samples;
    size_t next = 0;
    bool loaded = false;
  };
  auto cursor = std::make_shared<Cursor>(Cursor{*plan, request.start_sequence, end, {}, 0, false});
  auto source = [cursor]() -> std::optional<StreamItem> {
    Cursor& c = *cursor;
    if (c.sequence >= c.end) return std::nullopt;
    if (!c.loaded) {
      c.samples = c.plan.BatchSamples(c.sequence);
      c.next = 0;
      c.loaded = true;
    }
    if (c.next < c.samples.size()) {
      return StreamItem{.sequence = c.sequence, .index = c.samples[c.next++], .sample = {}};
    }
    StreamItem marker{.sequence = c.sequence, .end_of_batch = true, .sample = {}};
    ++c.sequence;
    c.loaded = false;
    return marker;
  };

  const uint64_t seed = request.seed;
  const uint64_t epoch = request.epoch;
  auto builder =
      PipelineBuilder<>()
          .AddSource(std::move(source), {.name = "plan"})
          .Pipe(
              [dataset, seed, epoch, load_failures](StreamItem item) -> absl::StatusOr<StreamItem> {
                if (item.end_of_batch) return item;
                absl::StatusOr<Sample> sample = load_failures.Loaded(
                    item.index, dataset->Load(item.index, SampleSeed(seed, epoch, item.index)));
                if (!sample.ok()) return sample.status();
                item.sample = *std::move(sample);
                return item;
              },
              {.concurrency = definition.load_concurrency,
               .name = "load",
               .output_order = OutputOrder::kInput});

  // Stages are added one by one; the builder's type stays PipelineBuilder<StreamItem>.
  using StageBuilder = decltype(builder);
  std::optional<StageBuilder> current(std::move(builder));
  for (size_t i = 0; i < stages->ops.size(); ++i) {
    const StageDefinition& stage = definition.stages[i];
    std::shared_ptr<const Op> op = stages->ops[i];
    StageOptions options{.concurrency = stage.concurrency,
                         .name = stage.name.empty() ? stage.op : stage.name,
                         .output_order = stage.output_order,
                         .max_failures = stage.max_failures};
    StageFailures stage_failures = failure_labels.Next(options.name);
    if (op->IsAsync()) {
      current.emplace(std::move(*current).PipeAsync(
          [op, stage_failures](StreamItem item, Completion<StreamItem> done,
                               const TaskContext& context) {
            if (item.end_of_batch) {
              done(std::move(item));
              return;
            }
            Sample sample = std::move(item.sample);
            stage_failures.Start(
                *op, std::move(sample),
                Completion<Sample>([item = std::move(item),
                                    done = std::move(done)](absl::StatusOr<Sample> result) mutable {
                  if (!result.ok()) {
                    done(result.status());
                    return;
                  }
                  item.sample = *std::move(result);
                  done(std::move(item));
                }),
                context);
          },
          options));
    } else {
      current.emplace(std::move(*current).Pipe(
          [op, stage_failures](StreamItem item,
                               const TaskContext& context) -> absl::StatusOr<StreamItem> {
            if (item.end_of_batch) return item;
            absl::StatusOr<Sample> result =
                stage_failures.Run(*op, std::move(item.sample), context);
            if (!result.ok()) return result.status();
            item.sample = *std::move(result);
            return item;
          },
          options));
    }
  }

  // Group: one call at a time (concurrency 1), so the open group needs no lock.
  auto open = std::make_shared<SampleGroup>();
  return std::move(*current)
      .Pipe(
          [open](StreamItem item) -> std::optional<SampleGroup> {
            if (!item.end_of_batch) {
              open->samples.push_back(std::move(item.sample));
              return std::nullopt;
            }
            SampleGroup group{.sequence = item.sequence, .samples = std::move(open->samples)};
            open->samples.clear();
            return group;
          },
          {.concurrency = 1, .name = "group", .output_order = OutputOrder::kInput})
      .Pipe([epoch](SampleGroup group) { return Collate(std::move(group), epoch); },
            {.concurrency = 2, .name = "collate", .output_order = OutputOrder::kInput})
      .AddSink(definition.sink_buffer)
      .Build({.runtime = &runtime, .max_failures = definition.max_failures});
}

}  // namespace dataloader::server
