// Copyright 2026 The dataloader Authors.
//
// SyntheticImageDataset: deterministic generated samples (an image and a label), so the
// service runs, is tested and is benchmarked without any data on disk. Sample i is the same
// bytes on every call, process and machine.
#ifndef SERVER_PIPELINE_SYNTHETIC_DATASET_H_
#define SERVER_PIPELINE_SYNTHETIC_DATASET_H_

#include <cstdint>
#include <memory>
#include <vector>

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
  // > 0: the images of samples 0..distinct_samples-1 are generated once, by Create(), and
  // sample i's image is a copy of image i % distinct_samples (labels stay i % num_classes).
  // Costs distinct_samples images of memory (at most 1 GiB); loading is then one copy.
  // 0: each image is generated when loaded.
  int64_t distinct_samples = 0;
};

class SyntheticImageDataset final : public Dataset {
 public:
  // InvalidArgument naming the field if a size is < 1 (num_samples may be 0) or > 65535, a
  // sample would be over kMaxSyntheticSampleBytes, or distinct_samples is negative or its
  // images would take over 1 GiB.
  static absl::StatusOr<SyntheticImageDataset> Create(const SyntheticImageOptions& options);

  int64_t size() const override { return options_.num_samples; }
  const SyntheticImageOptions& options() const { return options_; }
  // Tensors "image" (uint8 [height, width, channels]) and "label" (int64 scalar, shape []).
  // OutOfRange if index is not in [0, size()).
  absl::StatusOr<Sample> Load(int64_t index, uint64_t sample_seed) const override;
  uint64_t ContentFingerprint() const override;

 private:
  explicit SyntheticImageDataset(const SyntheticImageOptions& options) : options_(options) {}
  // Writes the image of sample `index` (height * width * channels bytes) to `out`.
  void Generate(int64_t index, uint8_t* out) const;

  SyntheticImageOptions options_{};
  // The distinct images, back to back (options_.distinct_samples > 0); shared by copies of
  // the dataset, never modified after Create().
  std::shared_ptr<const std::vector<uint8_t>> distinct_images_;
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_SYNTHETIC_DATASET_H_
