// Copyright 2026 The dataloader Authors.
//
// BuildStreamPipeline: the core pipeline behind one StreamBatches stream.
//
//   plan:     the dataset indices of this shard's batches from `start_sequence` on
//             (EpochPlan), in plan order
//   load:     the dataset's sample, seeded with SampleSeed(seed, epoch, index)
//   (a sequential dataset, Dataset::sequential() not null, e.g. tar shards: instead of plan
//   and load, the stream's SampleStream from the first sample of start_sequence, in the
//   dataset's own order; a sample it fails is counted at "load")
//   ops:      the configured stages (sync on the pool, async on the loop), in completion order
//             unless configured otherwise
//   assemble: AssembleBatches(batch_size): each sample placed at its position in its batch
//   collate:  the samples' tensors stacked into contiguous [batch, ...] tensors, in buffers
//             reused from a bounded pool (BatchBufferPool); if the last op is a TensorMap
//             (normalize), it is applied here, each sample's float32 output written straight
//             into the batch buffer (its stage only checks the sample)
//
// Batches are exact: batch k holds the samples of plan batch k, in plan order, whatever the
// threads, the stage concurrency or the order stages finish in: positions come from the plan,
// not from arrival. A sample that fails is dropped from its batch (its id is absent from
// sample_ids) and counted against the failure budgets; batches never shift. No thread waits
// for a slow sample: the wait is memory, at most the assembler's open batches (see
// AssembleOptions) of samples. Starting at `start_sequence` computes nothing for the batches
// before it (resume).
#ifndef SERVER_PIPELINE_STREAM_PIPELINE_H_
#define SERVER_PIPELINE_STREAM_PIPELINE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/pipeline.h"
#include "core/pipeline_options.h"
#include "core/runtime.h"
#include "server/ops/op_registry.h"
#include "server/pipeline/batch_buffer.h"
#include "server/pipeline/failure_reporter.h"
#include "server/pipeline/pipeline_definition.h"
#include "server/pipeline/sample.h"

namespace dataloader::server {

// What one stream asks for (validated by the caller against the request's fields).
struct StreamRequest {
  int64_t shard_index = 0;
  int64_t shard_count = 1;
  uint64_t epoch = 0;
  uint64_t seed = 0;
  int64_t start_sequence = 0;  // First batch to produce (resume).
  int64_t max_batches = 0;     // 0: to the end of the epoch.
};

struct BatchTensor {
  std::string name{};
  DType dtype = DType::kUint8;
  std::vector<int64_t> shape{};  // Leading dimension: samples in this batch.
  // C order. Large ones come from BatchBufferPool::Default() and go back to it when the wire
  // message that took the buffer is sent.
  BatchBuffer data{};
};

struct CollatedBatch {
  int64_t sequence = 0;
  uint64_t epoch = 0;
  std::vector<int64_t> sample_ids{};
  std::vector<BatchTensor> tensors{};
};

// Checks the definition (ops exist and take their arguments, sizes are valid): the server
// calls it for every pipeline at start-up so a bad config fails before serving.
absl::Status ValidatePipelineDefinition(const PipelineDefinition& definition,
                                        const OpRegistry& registry);

// Builds the stream's pipeline, not started, on the shared `runtime`. InvalidArgument names
// a bad request field or definition value. Each sample that fails a stage is reported to
// `failures` (if not null) besides being counted.
absl::StatusOr<std::unique_ptr<Pipeline<CollatedBatch>>> BuildStreamPipeline(
    const PipelineDefinition& definition, const StreamRequest& request, Runtime& runtime,
    const OpRegistry& registry, std::shared_ptr<FailureReporter> failures = nullptr);

// Batches in the stream for `request` (what an uninterrupted stream from sequence 0 yields).
absl::StatusOr<int64_t> BatchesPerShard(const PipelineDefinition& definition,
                                        const StreamRequest& request);

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_STREAM_PIPELINE_H_
