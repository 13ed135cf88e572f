// Copyright 2026 The dataloader Authors.
//
// DescribePipeline: the PipelineInfo that ListPipelines answers for a pipeline (its tensors,
// sizes, policies and the largest batch message a client must accept).
//
// The tensors a batch carries are only known by running the ops, so the server probes each
// pipeline at start-up: it runs the pipeline's first samples (in dataset order, one per
// batch) until kProbeLayoutSamples succeed and describes the tensors from the layout most of
// them share (the earliest on a tie), so that one odd sample first in the dataset does not
// become every batch's model (streams fail the samples that do not match it:
// PipelineDefinition::sample_tensors). Failed samples are skipped; if none of the first
// kProbeSamples succeeds, the pipeline cannot serve anything useful and the server refuses
// to start, with the last failure's message.
#ifndef SERVER_SERVICE_PIPELINE_INFO_H_
#define SERVER_SERVICE_PIPELINE_INFO_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/runtime.h"
#include "dataloader/v1/data_loader.pb.h"
#include "server/ops/op_registry.h"
#include "server/pipeline/pipeline_definition.h"

namespace dataloader::server {

// Samples the probe tries before refusing a pipeline.
inline constexpr int64_t kProbeSamples = 64;
// Good samples the probe compares to choose the batches' layout.
inline constexpr int64_t kProbeLayoutSamples = 8;
// How long the probe waits for one sample.
inline constexpr absl::Duration kProbeTimeout = absl::Seconds(60);

// Serialized bytes of a Batch besides its tensors' data: sequence, epoch, the resume token
// (about 60 bytes plus the pipeline's name) and field tags, generously.
inline constexpr uint64_t kBatchFixedBytes = 1024;
// Serialized bytes of one sample id (an int64 varint) at most.
inline constexpr uint64_t kSampleIdBytes = 10;
// Serialized bytes of a Tensor besides its name, shape and data: dtype, tags and lengths.
inline constexpr uint64_t kTensorFixedBytes = 32;
// Serialized bytes of one shape dimension (an int64 varint) at most.
inline constexpr uint64_t kDimensionBytes = 10;

// FailedPrecondition naming the pipeline if none of its first kProbeSamples samples can be
// processed (with the last failure), or if it has no samples.
absl::StatusOr<v1::PipelineInfo> DescribePipeline(const PipelineDefinition& definition,
                                                  Runtime& runtime, const OpRegistry& ops);

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_PIPELINE_INFO_H_
