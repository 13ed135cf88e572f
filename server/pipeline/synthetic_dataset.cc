// Copyright 2026 The dataloader Authors.

#include "server/pipeline/synthetic_dataset.h"

#include <cstring>
#include <utility>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "server/pipeline/fingerprint.h"

namespace dataloader::server {

absl::StatusOr<SyntheticImageDataset> SyntheticImageDataset::Create(
    const SyntheticImageOptions& options) {
  auto positive = [](const char* name, int64_t value) -> absl::Status {
    if (value >= 1) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("synthetic source: ", name, " must be >= 1, got ", value));
  };
  if (options.num_samples < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("synthetic source: num_samples must be >= 0, got ", options.num_samples));
  }
  for (absl::Status status :
       {positive("height", options.height), positive("width", options.width),
        positive("channels", options.channels), positive("num_classes", options.num_classes)}) {
    if (!status.ok()) return status;
  }
  // Each dimension fits 16 bits, so the product cannot overflow before it is checked.
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"height", options.height},
                                    {"width", options.width},
                                    {"channels", options.channels}}) {
    if (value > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("synthetic source: ", name, " must be <= 65535, got ", value));
    }
  }
  const int64_t bytes = options.height * options.width * options.channels;
  if (bytes > kMaxSyntheticSampleBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "synthetic source: ", options.height, "x", options.width, "x", options.channels, " = ",
        bytes, " bytes per sample, over the limit of ", kMaxSyntheticSampleBytes));
  }
  constexpr int64_t kMaxDistinctBytes = int64_t{1} << 30;
  if (options.distinct_samples < 0 ||
      (options.distinct_samples > 0 &&
       absl::uint128(bytes) * static_cast<uint64_t>(options.distinct_samples) >
           kMaxDistinctBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("synthetic source: distinct_samples must be >= 0 and its images at most ",
                     kMaxDistinctBytes, " bytes, got ", options.distinct_samples, " images of ",
                     options.height, "x", options.width, "x", options.channels));
  }
  SyntheticImageDataset dataset(options);
  if (options.distinct_samples > 0) {
    const size_t size = static_cast<size_t>(bytes);
    auto images = std::make_shared<std::vector<uint8_t>>(
        size * static_cast<size_t>(options.distinct_samples));
    for (int64_t i = 0; i < options.distinct_samples; ++i) {
      dataset.Generate(i, images->data() + static_cast<size_t>(i) * size);
    }
    dataset.distinct_images_ = std::move(images);
  }
  return dataset;
}

void SyntheticImageDataset::Generate(int64_t index, uint8_t* out) const {
  const size_t size = static_cast<size_t>(options_.height * options_.width * options_.channels);
  // A cheap generator keyed by the index: a smooth gradient plus noise, 8 bytes per step.
  uint64_t state = static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15u + 0x2545F4914F6CDD1Du;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    std::memcpy(&out[i], &state, 8);
  }
  for (; i < size; ++i) out[i] = static_cast<uint8_t>(index + i);
}

uint64_t SyntheticImageDataset::ContentFingerprint() const {
  return Fingerprint()
      .Add(absl::string_view("synthetic"))
      .Add(options_.num_samples)
      .Add(options_.height)
      .Add(options_.width)
      .Add(options_.channels)
      .Add(options_.num_classes)
      .Add(options_.distinct_samples)  // Changes the images of samples past it.
      .value();
}

absl::StatusOr<Sample> SyntheticImageDataset::Load(int64_t index, uint64_t sample_seed) const {
  if (index < 0 || index >= options_.num_samples) {
    return absl::OutOfRangeError(absl::StrCat("synthetic source: sample index ", index,
                                              " is outside [0, ", options_.num_samples, ")"));
  }
  Sample sample{.index = index, .seed = sample_seed, .tensors = {}};
  Tensor& image = sample.tensors.emplace_back();
  image.name = "image";
  image.dtype = DType::kUint8;
  image.shape = {options_.height, options_.width, options_.channels};
  const size_t size = static_cast<size_t>(options_.height * options_.width * options_.channels);
  if (distinct_images_ != nullptr) {
    const uint8_t* source =
        distinct_images_->data() + static_cast<size_t>(index % options_.distinct_samples) * size;
    image.data.assign(source, source + size);
  } else {
    image.data.resize(size);
    Generate(index, image.data.data());
  }

  Tensor& label = sample.tensors.emplace_back();
  label.name = "label";
  label.dtype = DType::kInt64;
  label.shape = {};
  const int64_t value = index % options_.num_classes;
  label.data.resize(sizeof value);
  std::memcpy(label.data.data(), &value, sizeof value);
  return sample;
}

}  // namespace dataloader::server
