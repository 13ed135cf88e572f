// Copyright 2026 The dataloader Authors.
//
// SequentialDataset: a dataset whose samples can only be read in order (tar shards), so a
// stream's samples come from a SampleStream it opens rather than from Dataset::Load(index).
// The stream pipeline (stream_pipeline.h) uses it as its source when Dataset::sequential() is
// not null; everything after the source (ops, batches by position, collate) is the same.
#ifndef SERVER_PIPELINE_SEQUENTIAL_DATASET_H_
#define SERVER_PIPELINE_SEQUENTIAL_DATASET_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "server/pipeline/sample.h"

namespace dataloader::server {

// One emitted sample: its id (Sample::index, for sample_ids and errors) and the sample, or
// the error that failed it (counted against the budgets by the pipeline's load stage).
struct SequentialItem {
  int64_t index = 0;
  absl::StatusOr<Sample> sample;
};

class SampleStream {
 public:
  virtual ~SampleStream() = default;
  // The next sample in the stream's order; nullopt after the last. An error ends the stream
  // (a sample's own failure is an item, not an error).
  virtual absl::StatusOr<std::optional<SequentialItem>> Next() = 0;
};

struct SequentialStreamRequest {
  uint64_t seed = 0;
  uint64_t epoch = 0;
  int64_t shard_index = 0;
  int64_t shard_count = 1;
  bool shuffle = true;
  // The stream's samples [first_sample, end_sample) in its order (resume starts past 0).
  int64_t first_sample = 0;
  int64_t end_sample = 0;
};

class SequentialDataset {
 public:
  virtual ~SequentialDataset() = default;
  // Samples per stream of `shard_count` (every stream gets the same count).
  virtual int64_t SamplesPerStream(int64_t shard_count) const = 0;
  virtual absl::StatusOr<std::unique_ptr<SampleStream>> OpenStream(
      const SequentialStreamRequest& request) const = 0;
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_SEQUENTIAL_DATASET_H_
