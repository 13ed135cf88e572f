// Copyright 2026 The dataloader Authors.

#include "server/service/pipeline_info.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/pipeline/stream_pipeline.h"

namespace dataloader::server {
namespace {

// Up to kProbeLayoutSamples of the first samples of `definition` that succeed, each as a
// batch of one, in dataset order; an error if none does.
absl::StatusOr<std::vector<CollatedBatch>> ProbeSamples(const PipelineDefinition& definition,
                                                        Runtime& runtime, const OpRegistry& ops) {
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
  std::vector<CollatedBatch> good;
  while (static_cast<int64_t>(good.size()) < kProbeLayoutSamples) {
    absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(kProbeTimeout);
    if (!batch.ok()) {
      if (!good.empty()) break;  // The end, or a late failure: what was found is enough.
      if (absl::IsDeadlineExceeded(batch.status())) {
        return absl::DeadlineExceededError(
            absl::StrCat("no sample finished within ", absl::FormatDuration(kProbeTimeout)));
      }
      return batch.status();
    }
    if (!batch->sample_ids.empty()) good.push_back(*std::move(batch));
  }
  return good;
}

bool SameLayout(const CollatedBatch& a, const CollatedBatch& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (size_t t = 0; t < a.tensors.size(); ++t) {
    if (a.tensors[t].name != b.tensors[t].name || a.tensors[t].dtype != b.tensors[t].dtype ||
        a.tensors[t].shape != b.tensors[t].shape) {
      return false;
    }
  }
  return true;
}

// The sample whose layout most of `samples` share; the earliest on a tie.
const CollatedBatch& MostCommonLayout(const std::vector<CollatedBatch>& samples) {
  size_t best = 0;
  int64_t best_count = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const int64_t count = std::count_if(samples.begin(), samples.end(), [&](const auto& other) {
      return SameLayout(samples[i], other);
    });
    if (count > best_count) {
      best = i;
      best_count = count;
    }
  }
  return samples[best];
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
  absl::StatusOr<std::vector<CollatedBatch>> samples = ProbeSamples(definition, runtime, ops);
  if (!samples.ok()) {
    const absl::Status& status = samples.status();
    if (absl::IsOutOfRange(status) || absl::IsAborted(status)) {
      return refused(absl::StrCat("none of its first ",
                                  std::min(kProbeSamples, definition.dataset->size()),
                                  " samples could be processed (", status.message(), ")"));
    }
    return refused(status.message());
  }
  const CollatedBatch& sample = MostCommonLayout(*samples);
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
  for (const BatchTensor& tensor : sample.tensors) {
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
