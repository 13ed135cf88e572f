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
#include "server/pipeline/sequential_dataset.h"

namespace dataloader::server {
namespace {

// Collate tasks at once per stream: one per 4 pool threads, at least 2. Collating costs up to
// a sixth of making the samples (normalizing float32 into the batch: ~0.2 ms of a ~1.5 ms
// training sample here), so this keeps up on any machine; each task holds a whole batch, and
// the input order's window of one more bounds a stream's collated batches outside the sink to
// that plus one.
int CollateConcurrency(Runtime& runtime) { return std::max(2, runtime.pool().num_threads() / 4); }

std::string ShapeText(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Stacks the samples' tensors into [n, ...] batch tensors in buffers from `pool`: a copy of
// each sample's tensor, written at its offset (no zero-fill first), or for the tensor of
// `fused` (the pipeline's last op, when it is a TensorMap) that op's output, written straight
// into the batch buffer.
absl::StatusOr<CollatedBatch> Collate(AssembledBatch<Sample> group, int64_t first_sequence,
                                      uint64_t epoch, const TensorMap* fused,
                                      BatchBufferPool& pool) {
  CollatedBatch batch;
  batch.sequence = first_sequence + group.sequence;
  batch.epoch = epoch;
  const int64_t n = static_cast<int64_t>(group.items.size());
  for (const Sample& sample : group.items) batch.sample_ids.push_back(sample.index);
  if (n == 0) return batch;  // Every sample failed: an empty batch keeps the sequence whole.
  const Sample& first = group.items[0];
  for (size_t t = 0; t < first.tensors.size(); ++t) {
    const Tensor& model = first.tensors[t];
    const bool mapped = fused != nullptr && model.name == fused->tensor_name();
    TensorLayout layout{.dtype = model.dtype, .shape = model.shape};
    if (mapped) {
      absl::StatusOr<TensorLayout> output = fused->OutputLayout(model);
      if (!output.ok()) return output.status();  // The op's stage let it through: a bug.
      layout = *std::move(output);
    } else if (layout.bytes() != model.data.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("collate: sample ", first.index, " has ", model.data.size(),
                       " bytes in tensor '", model.name, "', expected ", layout.bytes(), " for ",
                       DTypeName(model.dtype), " ", ShapeText(model.shape)));
    }
    const size_t sample_bytes = layout.bytes();
    BatchTensor& out = batch.tensors.emplace_back();
    out.name = model.name;
    out.dtype = layout.dtype;
    out.shape.push_back(n);
    out.shape.insert(out.shape.end(), layout.shape.begin(), layout.shape.end());
    out.data = pool.Take(sample_bytes * static_cast<size_t>(n));
    uint8_t* to = out.data.data();
    for (const Sample& sample : group.items) {
      const Tensor* tensor = t < sample.tensors.size() ? &sample.tensors[t] : nullptr;
      if (tensor == nullptr || tensor->name != model.name || tensor->dtype != model.dtype ||
          tensor->shape != model.shape || tensor->data.size() != model.data.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("collate: sample ", sample.index, " does not match sample ", first.index,
                         " in tensor '", model.name, "' (", DTypeName(model.dtype), " ",
                         ShapeText(model.shape), "); batches need equal names, dtypes and shapes"));
      }
      if (mapped) {
        fused->Write(*tensor, to);
      } else {
        std::memcpy(to, tensor->data.data(), sample_bytes);
      }
      to += sample_bytes;
    }
  }
  return batch;
}

std::string LayoutText(DType dtype, const std::vector<int64_t>& shape) {
  return absl::StrCat(DTypeName(dtype), " ", ShapeText(shape));
}

// OK if `sample` carries exactly the tensors of `expected` (as batched: the tensor of `fused`,
// if any, as that op will write it), else why not, naming the sample and the tensor.
absl::Status CheckStacks(const Sample& sample, const std::vector<SampleTensorSpec>& expected,
                         const TensorMap* fused) {
  auto refused = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        sample.Describe(), ": does not stack with the pipeline's other samples: ", why));
  };
  if (sample.tensors.size() != expected.size()) {
    return refused(absl::StrCat(sample.tensors.size(), " tensors, batches have ", expected.size()));
  }
  for (size_t t = 0; t < expected.size(); ++t) {
    const Tensor& tensor = sample.tensors[t];
    const SampleTensorSpec& want = expected[t];
    if (tensor.name != want.name) {
      return refused(absl::StrCat("tensor ", t, " is '", tensor.name, "', batches have '",
                                  want.name, "' there"));
    }
    TensorLayout layout{.dtype = tensor.dtype, .shape = tensor.shape};
    if (fused != nullptr && tensor.name == fused->tensor_name()) {
      absl::StatusOr<TensorLayout> output = fused->OutputLayout(tensor);
      if (!output.ok()) return refused(output.status().message());
      layout = *std::move(output);
    } else if (layout.bytes() != tensor.data.size()) {
      return refused(absl::StrCat("tensor '", tensor.name, "' has ", tensor.data.size(),
                                  " bytes for ", LayoutText(tensor.dtype, tensor.shape)));
    }
    if (layout.dtype != want.dtype || layout.shape != want.shape) {
      return refused(absl::StrCat("tensor '", tensor.name, "' is ",
                                  LayoutText(layout.dtype, layout.shape), ", batches stack ",
                                  LayoutText(want.dtype, want.shape),
                                  " (resize or crop images to one size)"));
    }
  }
  return absl::OkStatus();
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
  if (definition.batch_size > kMaxBatchSize) {
    return invalid("batch_size must be 1 to ", kMaxBatchSize, ", got ", definition.batch_size);
  }
  if (definition.load_concurrency < 0 || definition.load_concurrency > kMaxConcurrency) {
    return invalid("load_concurrency must be 0 (automatic) or 1 to ", kMaxConcurrency, ", got ",
                   definition.load_concurrency);
  }
  if (definition.sink_buffer < 1 || definition.sink_buffer > kMaxBufferSize) {
    return invalid("sink_buffer must be 1 to ", kMaxBufferSize, ", got ", definition.sink_buffer);
  }
  for (const StageDefinition& stage : definition.stages) {
    if (stage.concurrency < 0 || stage.concurrency > kMaxConcurrency) {
      return invalid("stage '", stage.name.empty() ? stage.op : stage.name,
                     "': concurrency must be 0 (automatic) or 1 to ", kMaxConcurrency, ", got ",
                     stage.concurrency);
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
  const uint64_t seed = request.seed;
  const uint64_t epoch = request.epoch;
  using StageBuilder = PipelineBuilder<Sample>;
  std::optional<StageBuilder> current;
  if (const SequentialDataset* sequential = dataset->sequential(); sequential != nullptr) {
    // A dataset read in order (tar shards) opens the stream's samples from the first one of
    // start_sequence on; it alone knows how much it must read to get there.
    const int64_t per_stream = sequential->SamplesPerStream(request.shard_count);
    absl::StatusOr<std::unique_ptr<SampleStream>> opened = sequential->OpenStream(
        {.seed = seed,
         .epoch = epoch,
         .shard_index = request.shard_index,
         .shard_count = request.shard_count,
         .shuffle = definition.shuffle,
         .first_sample = std::min(per_stream, request.start_sequence * definition.batch_size),
         .end_sample = std::min(per_stream, end * definition.batch_size)});
    if (!opened.ok()) return opened.status();
    std::shared_ptr<SampleStream> stream = *std::move(opened);
    // The stream refers to the dataset: the source keeps both.
    auto source = [dataset, stream]() { return stream->Next(); };
    current.emplace(
        PipelineBuilder<>()
            .AddSource(std::move(source), {.name = "shards"})
            .Pipe(
                [seed, epoch, load_failures](SequentialItem item) -> absl::StatusOr<Sample> {
                  if (item.sample.ok()) {
                    item.sample->seed = SampleSeed(seed, epoch, item.index);
                  }
                  return load_failures.Result(item.index, std::move(item.sample));
                },
                {.concurrency = 1, .name = "load"}));
  } else {
    // The source walks the plan batch by batch, from start_sequence: nothing before it is
    // computed. Source item k is position k % batch_size of pipeline batch k / batch_size,
    // which is plan batch start_sequence + k / batch_size: every plan batch but an epoch's
    // last is full.
    struct Cursor {
      EpochPlan plan;
      int64_t sequence;
      int64_t end;
      int64_t batch_size;
      std::vector<int64_t> samples;
      size_t next = 0;
    };
    auto cursor = std::make_shared<Cursor>(
        Cursor{*plan, request.start_sequence, end, definition.batch_size, {}, 0});
    auto source = [cursor]() -> absl::StatusOr<std::optional<int64_t>> {
      Cursor& c = *cursor;
      while (c.next == c.samples.size()) {
        if (c.sequence >= c.end) return std::nullopt;
        c.samples = c.plan.BatchSamples(c.sequence);
        c.next = 0;
        if (static_cast<int64_t>(c.samples.size()) != c.batch_size &&
            c.sequence + 1 != c.plan.batches()) {
          return absl::InternalError(absl::StrCat("epoch plan batch ", c.sequence, " has ",
                                                  c.samples.size(), " samples, expected ",
                                                  c.batch_size));
        }
        ++c.sequence;
      }
      return c.samples[c.next++];
    };
    current.emplace(
        PipelineBuilder<>()
            .AddSource(std::move(source), {.name = "plan"})
            .Pipe(
                [dataset, seed, epoch, load_failures](int64_t index) -> absl::StatusOr<Sample> {
                  return load_failures.Result(index,
                                              dataset->Load(index, SampleSeed(seed, epoch, index)));
                },
                {.concurrency = definition.load_concurrency, .name = "load"}));
  }

  // The last op, if it only maps one tensor (normalize), is applied while collating: its
  // stage only checks each sample, so a sample it would fail still fails there.
  std::shared_ptr<const Op> fused_op;
  if (!stages->ops.empty() && !stages->ops.back()->IsAsync() &&
      stages->ops.back()->AsTensorMap() != nullptr) {
    fused_op = stages->ops.back();
  }

  // Stages are added one by one; the builder's type stays PipelineBuilder<Sample>.
  for (size_t i = 0; i < stages->ops.size(); ++i) {
    const StageDefinition& stage = definition.stages[i];
    std::shared_ptr<const Op> op = stages->ops[i];
    StageOptions options{.concurrency = stage.concurrency,
                         .name = stage.name.empty() ? stage.op : stage.name,
                         .output_order = stage.output_order,
                         .max_failures = stage.max_failures};
    StageFailures stage_failures = failure_labels.Next(options.name);
    if (op == fused_op) {
      current.emplace(std::move(*current).Pipe(
          [op, stage_failures](Sample sample) -> absl::StatusOr<Sample> {
            const TensorMap& map = *op->AsTensorMap();
            const int64_t index = sample.index;
            absl::StatusOr<Tensor*> tensor = sample.Find(map.tensor_name());
            if (!tensor.ok()) return stage_failures.Result(index, tensor.status());
            if (absl::StatusOr<TensorLayout> layout = map.OutputLayout(**tensor); !layout.ok()) {
              return stage_failures.Result(index, layout.status());
            }
            return sample;
          },
          options));
    } else if (op->IsAsync()) {
      current.emplace(std::move(*current).PipeAsync(
          [op, stage_failures](Sample sample, Completion<Sample> done, const TaskContext& context) {
            stage_failures.Start(*op, std::move(sample), std::move(done), context);
          },
          options));
    } else {
      current.emplace(std::move(*current).Pipe(
          [op, stage_failures](Sample sample, const TaskContext& context) {
            return stage_failures.Run(*op, std::move(sample), context);
          },
          options));
    }
  }

  // A sample that would not stack with the others fails here on its own (reported, counted
  // against the budgets); its batch then goes out without it rather than fail whole.
  if (!definition.sample_tensors.empty()) {
    StageFailures stack_failures = failure_labels.Next("stack");
    current.emplace(std::move(*current).Pipe(
        [expected = definition.sample_tensors, fused_op,
         stack_failures](Sample sample) -> absl::StatusOr<Sample> {
          const TensorMap* fused = fused_op == nullptr ? nullptr : fused_op->AsTensorMap();
          if (absl::Status stacks = CheckStacks(sample, expected, fused); !stacks.ok()) {
            return stack_failures.Result(sample.index, stacks);
          }
          return sample;
        },
        {.name = "stack"}));
  }

  // Batches by position: the stages above run in completion order (unless configured
  // otherwise) and no thread waits for a slow sample; batches still leave in plan order.
  // Collate keeps that order with a small window: its outputs are whole batches.
  const int64_t first_sequence = request.start_sequence;
  return std::move(*current)
      .AssembleBatches(static_cast<int>(definition.batch_size))
      .Pipe(
          [first_sequence, epoch, fused_op](AssembledBatch<Sample> group) {
            return Collate(std::move(group), first_sequence, epoch,
                           fused_op == nullptr ? nullptr : fused_op->AsTensorMap(),
                           BatchBufferPool::Default());
          },
          {.concurrency = CollateConcurrency(runtime),
           .name = "collate",
           .output_order = OutputOrder::kInput,
           .reorder_window = 1})
      .AddSink(definition.sink_buffer)
      .Build({.runtime = &runtime, .max_failures = definition.max_failures});
}

}  // namespace dataloader::server
