// Copyright 2026 The dataloader Authors.
//
// SyntheticImageDataset: deterministic generated samples (an image and a label), so the
// service runs, is tested and is benchmarked without any data on disk. Sample i is the same
// bytes on every call, process and machine.
#ifndef SERVER_PIPELINE_SYNTHETIC_DATASET_H_
#define SERVER_PIPELINE_SYNTHETIC_DATASET_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "server/pipeline/dataset.h"
#include "server/pipeline/sample.h"

namespace dataloader::server {

// The largest sample a synthetic dataset makes (1 GiB).
inline constexpr int64_t kMaxSyntheticSampleBytes = int64_t{1} << 30;

struct SyntheticImageOptions {
  int64_t num_samples = 1024;
  int64_t height = 32;
  int64_t width = 32;
  int64_t channels = 3;
  int64_t num_classes = 10;
};

class SyntheticImageDataset final : public Dataset {
 public:
  // InvalidArgument naming the field if a size is < 1 (num_samples may be 0) or > 65535, or
  // a sample would be over kMaxSyntheticSampleBytes.
  static absl::StatusOr<SyntheticImageDataset> Create(const SyntheticImageOptions& options);

  int64_t size() const override { return options_.num_samples; }
  const SyntheticImageOptions& options() const { return options_; }
  // Tensors "image" (uint8 [height, width, channels]) and "label" (int64 scalar, shape []).
  // OutOfRange if index is not in [0, size()).
  absl::StatusOr<Sample> Load(int64_t index, uint64_t sample_seed) const override;
  uint64_t ContentFingerprint() const override;

 private:
  explicit SyntheticImageDataset(const SyntheticImageOptions& options) : options_(options) {}
  SyntheticImageOptions options_{};
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_SYNTHETIC_DATASET_H_
