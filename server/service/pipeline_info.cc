// Copyright 2026 The dataloader Authors.

#include "server/service/pipeline_info.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/pipeline/stream_pipeline.h"

namespace dataloader::server {
namespace {

// The first sample of `definition` that succeeds, as a batch of one.
absl::StatusOr<CollatedBatch> ProbeSample(const PipelineDefinition& definition, Runtime& runtime,
                                          const OpRegistry& ops) {
  const int64_t tries = std::min(kProbeSamples, definition.dataset->size());
  PipelineDefinition probe = definition;
  probe.batch_size = 1;
  probe.drop_last = false;
  probe.shuffle = false;
  // Every sample may fail but the last one tried: then the pipeline ends with the budget's
  // error, which carries the last failure.
  probe.max_failures = tries - 1;
  for (StageDefinition& stage : probe.stages) stage.max_failures = kUnlimitedFailures;
  absl::StatusOr<std::unique_ptr<Pipeline<CollatedBatch>>> pipeline =
      BuildStreamPipeline(probe, {.max_batches = tries}, runtime, ops);
  if (!pipeline.ok()) return pipeline.status();
  while (true) {
    absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(kProbeTimeout);
    if (!batch.ok()) {
      if (absl::IsDeadlineExceeded(batch.status())) {
        return absl::DeadlineExceededError(
            absl::StrCat("no sample finished within ", absl::FormatDuration(kProbeTimeout)));
      }
      return batch.status();
    }
    if (!batch->sample_ids.empty()) return batch;
  }
}

}  // namespace

absl::StatusOr<v1::PipelineInfo> DescribePipeline(const PipelineDefinition& definition,
                                                  Runtime& runtime, const OpRegistry& ops) {
  auto refused = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("pipeline '", definition.name, "' cannot serve: ", why));
  };
  if (definition.dataset == nullptr || definition.dataset->size() == 0) {
    return refused("its source has no samples");
  }
  absl::StatusOr<CollatedBatch> sample = ProbeSample(definition, runtime, ops);
  if (!sample.ok()) {
    if (absl::IsOutOfRange(sample.status()) || absl::IsAborted(sample.status())) {
      return refused(absl::StrCat("none of its first ",
                                  std::min(kProbeSamples, definition.dataset->size()),
                                  " samples could be processed (", sample.status().message(), ")"));
    }
    return refused(sample.status().message());
  }
  v1::PipelineInfo info;
  info.set_name(definition.name);
  info.set_description(definition.description);
  info.set_samples_per_epoch(static_cast<uint64_t>(definition.dataset->size()));
  info.set_batch_size(static_cast<uint64_t>(definition.batch_size));
  info.set_drop_last(definition.drop_last);
  info.set_shuffle(definition.shuffle);
  // Batches are assembled by position (stream_pipeline.h): exact whatever each stage's order.
  info.set_exact_order(true);
  info.set_remainder_policy(v1::REMAINDER_POLICY_DROP);
  const uint64_t batch = static_cast<uint64_t>(definition.batch_size);
  uint64_t bytes = kBatchFixedBytes + kSampleIdBytes * batch;
  for (const BatchTensor& tensor : sample->tensors) {
    v1::TensorSpec* spec = info.add_tensors();
    spec->set_name(tensor.name);
    spec->set_dtype(static_cast<v1::DType>(tensor.dtype));
    spec->add_shape(definition.batch_size);
    for (size_t d = 1; d < tensor.shape.size(); ++d) spec->add_shape(tensor.shape[d]);
    // The probe's batch holds one sample: its data is one sample's.
    bytes += kTensorFixedBytes + tensor.name.size() + kDimensionBytes * tensor.shape.size() +
             tensor.data.size() * batch;
  }
  info.set_max_batch_bytes(bytes);
  return info;
}

}  // namespace dataloader::server
