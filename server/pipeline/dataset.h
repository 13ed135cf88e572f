// Copyright 2026 The dataloader Authors.
//
// Dataset: what a pipeline's source indexes. Load(index) is called concurrently from the
// pipeline's load stage and must be thread-safe; it should be cheap (file datasets return the
// path and label; reading the file is the read_file op, so its I/O concurrency is a stage's).
//
// Implementations: SyntheticImageDataset (generated samples) and FileDataset (an image folder
// in the ImageNet layout, or a list file), RemoteDataset (URLs), TarShardDataset (tar shards,
// sequential).
#ifndef SERVER_PIPELINE_DATASET_H_
#define SERVER_PIPELINE_DATASET_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "server/pipeline/sample.h"

namespace dataloader::server {

class SequentialDataset;

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // The sample at `index` in [0, size()), tagged with `sample_seed`; OutOfRange otherwise.
  virtual absl::StatusOr<Sample> Load(int64_t index, uint64_t sample_seed) const = 0;
  // The directory file paths are relative to and confined to; empty if the samples are not
  // files.
  virtual std::string root() const { return {}; }
  // What the samples are, not where they are kept: a hash of the generator's parameters, or
  // of the listing (relative paths and labels). Resume tokens are bound to it, so a server
  // whose data differs refuses another's tokens, while the same files mounted elsewhere keep
  // them valid.
  virtual uint64_t ContentFingerprint() const = 0;
  // Not null for a dataset read in order (tar shards, sequential_dataset.h): streams read
  // their samples from it, and Load() is not called.
  virtual const SequentialDataset* sequential() const { return nullptr; }
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_DATASET_H_
