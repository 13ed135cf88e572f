// Copyright 2026 The dataloader Authors.
//
// Generic ops: enough to exercise every engine feature from a config (CPU cost, asynchronous
// latency, dtype conversion, normalization, per-sample randomness). Image ops live apart.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "server/ops/builtin_ops.h"
#include "server/ops/op.h"

namespace dataloader::server {
namespace {

// Busy CPU work for a fixed time: stands for decoding or augmenting in load tests.
class CpuCostOp final : public Op {
 public:
  explicit CpuCostOp(absl::Duration cost) : cost_(absl::ToChronoNanoseconds(cost)) {}
  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    const auto until = std::chrono::steady_clock::now() + cost_;
    uint64_t x = static_cast<uint64_t>(sample.index);
    do {
      for (int i = 0; i < 256; ++i) x = (x ^ (x >> 31)) * 0x9E3779B97F4A7C15u + 1;
    } while (std::chrono::steady_clock::now() < until);
    asm volatile("" : : "r"(x));  // Keeps the work.
    return sample;
  }

 private:
  const std::chrono::nanoseconds cost_;
};

// Waits without holding a thread: stands for remote reads in load tests.
class LatencyOp final : public Op {
 public:
  explicit LatencyOp(absl::Duration latency) : latency_(latency) {}
  bool IsAsync() const override { return true; }
  void Start(Sample sample, Completion<Sample> done, const TaskContext& context) const override {
    context.loop().RunAfter(latency_,
                            [sample = std::move(sample), done = std::move(done)]() mutable {
                              done(std::move(sample));
                            });
  }

 private:
  const absl::Duration latency_;
};

double ReadElement(const uint8_t* data, DType dtype) {
  switch (dtype) {
    case DType::kUint8:
      return *data;
    case DType::kInt32: {
      int32_t v;
      std::memcpy(&v, data, sizeof v);
      return v;
    }
    case DType::kInt64: {
      int64_t v;
      std::memcpy(&v, data, sizeof v);
      return static_cast<double>(v);
    }
    case DType::kFloat32: {
      float v;
      std::memcpy(&v, data, sizeof v);
      return v;
    }
    case DType::kFloat64: {
      double v;
      std::memcpy(&v, data, sizeof v);
      return v;
    }
    default:
      return 0;
  }
}

void WriteElement(double value, DType dtype, uint8_t* data) {
  switch (dtype) {
    case DType::kUint8:
      *data = static_cast<uint8_t>(std::clamp(std::nearbyint(value), 0.0, 255.0));
      return;
    case DType::kInt32: {
      const auto v = static_cast<int32_t>(value);
      std::memcpy(data, &v, sizeof v);
      return;
    }
    case DType::kInt64: {
      const auto v = static_cast<int64_t>(value);
      std::memcpy(data, &v, sizeof v);
      return;
    }
    case DType::kFloat32: {
      const auto v = static_cast<float>(value);
      std::memcpy(data, &v, sizeof v);
      return;
    }
    case DType::kFloat64:
      std::memcpy(data, &value, sizeof value);
      return;
    default:
      return;
  }
}

bool Castable(DType dtype) {
  return dtype == DType::kUint8 || dtype == DType::kInt32 || dtype == DType::kInt64 ||
         dtype == DType::kFloat32 || dtype == DType::kFloat64;
}

// Converts a tensor's elements to another dtype (uint8 targets round and clamp).
class CastOp final : public Op {
 public:
  CastOp(std::string tensor, DType dtype) : tensor_(std::move(tensor)), dtype_(dtype) {}
  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    absl::StatusOr<Tensor*> found = sample.Find(tensor_);
    if (!found.ok()) return found.status();
    Tensor& tensor = **found;
    if (!Castable(tensor.dtype)) {
      return absl::InvalidArgumentError(
          absl::StrCat("op 'cast': cannot cast from ", DTypeName(tensor.dtype)));
    }
    const int64_t n = tensor.elements();
    std::vector<uint8_t> out(static_cast<size_t>(n) * DTypeSize(dtype_));
    const size_t in_size = DTypeSize(tensor.dtype);
    for (int64_t i = 0; i < n; ++i) {
      WriteElement(ReadElement(&tensor.data[i * in_size], tensor.dtype), dtype_,
                   &out[i * DTypeSize(dtype_)]);
    }
    tensor.data = std::move(out);
    tensor.dtype = dtype_;
    return sample;
  }

 private:
  const std::string tensor_;
  const DType dtype_;
};

// Converts `count` bytes to float32 x * scale[k] + bias[k], k cycling through C channels
// (HWC). Blocks of 16 pixels have a fixed trip count, which the compiler vectorizes at -O2.
template <int C>
void NormalizeInterleaved(const uint8_t* __restrict src, float* __restrict dst, int64_t pixels,
                          const float* scale, const float* bias) {
  constexpr int kBlock = 16 * C;
  float block_scale[kBlock], block_bias[kBlock];
  for (int j = 0; j < kBlock; ++j) {
    block_scale[j] = scale[j % C];
    block_bias[j] = bias[j % C];
  }
  const int64_t count = pixels * C;
  int64_t i = 0;
  for (; i + kBlock <= count; i += kBlock) {
    for (int j = 0; j < kBlock; ++j) dst[i + j] = src[i + j] * block_scale[j] + block_bias[j];
  }
  for (; i < count; ++i) dst[i] = src[i] * scale[i % C] + bias[i % C];
}

// The same, written as C planes (CHW): each block of 64 pixels is split into its channels'
// bytes (scalar), then every plane converted with a vectorized fixed-length loop.
void NormalizePlanar(const uint8_t* __restrict src, float* __restrict dst, int64_t pixels,
                     int64_t channels, const float* scale, const float* bias) {
  constexpr int kBlock = 64;
  uint8_t plane[kBlock];
  int64_t i = 0;
  for (; i + kBlock <= pixels; i += kBlock) {
    for (int64_t k = 0; k < channels; ++k) {
      const uint8_t* from = src + i * channels + k;
      for (int j = 0; j < kBlock; ++j) plane[j] = from[j * channels];
      float* __restrict to = dst + k * pixels + i;
      const float s = scale[k], b = bias[k];
      for (int j = 0; j < kBlock; ++j) to[j] = plane[j] * s + b;
    }
  }
  for (; i < pixels; ++i) {
    for (int64_t k = 0; k < channels; ++k) {
      dst[k * pixels + i] = src[i * channels + k] * scale[k] + bias[k];
    }
  }
}

// uint8 [H, W, C] → float32 (x / 255 - mean[c]) / std[c], as [H, W, C] or [C, H, W], computed
// as x * (1 / (255 std[c])) - mean[c] / std[c] (a multiply-add instead of two divisions; equal
// to torchvision's ToTensor + Normalize within float rounding, ~1e-7 relative). A TensorMap:
// as the last op of a pipeline it runs while collating (see stream_pipeline.h).
class NormalizeOp final : public Op, public TensorMap {
 public:
  NormalizeOp(std::string tensor, std::vector<float> mean, std::vector<float> std, bool chw)
      : tensor_(std::move(tensor)), mean_(std::move(mean)), std_(std::move(std)), chw_(chw) {}

  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    absl::StatusOr<Tensor*> found = sample.Find(tensor_);
    if (!found.ok()) return found.status();
    Tensor& tensor = **found;
    absl::StatusOr<TensorLayout> layout = OutputLayout(tensor);
    if (!layout.ok()) return layout.status();
    std::vector<uint8_t> out(layout->bytes());
    Write(tensor, out.data());
    tensor.data = std::move(out);
    tensor.dtype = layout->dtype;
    tensor.shape = std::move(layout->shape);
    return sample;
  }

  const TensorMap* AsTensorMap() const override { return this; }
  const std::string& tensor_name() const override { return tensor_; }

  absl::StatusOr<TensorLayout> OutputLayout(const Tensor& tensor) const override {
    if (tensor.dtype != DType::kUint8 || tensor.shape.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("op 'normalize': tensor '", tensor_, "' must be uint8 [H, W, C], got ",
                       DTypeName(tensor.dtype), " of rank ", tensor.shape.size()));
    }
    const int64_t h = tensor.shape[0], w = tensor.shape[1], c = tensor.shape[2];
    if ((mean_.size() != 1 && static_cast<int64_t>(mean_.size()) != c) ||
        (std_.size() != 1 && static_cast<int64_t>(std_.size()) != c)) {
      return absl::InvalidArgumentError(absl::StrCat("op 'normalize': mean and std need 1 or ", c,
                                                     " values for ", c, " channels"));
    }
    return TensorLayout{.dtype = DType::kFloat32,
                        .shape = chw_ ? std::vector<int64_t>{c, h, w} : tensor.shape};
  }

  void Write(const Tensor& tensor, uint8_t* out) const override {
    const int64_t c = tensor.shape[2];
    const int64_t pixels = tensor.shape[0] * tensor.shape[1];
    std::vector<float> scale(static_cast<size_t>(c)), bias(static_cast<size_t>(c));
    for (int64_t k = 0; k < c; ++k) {
      const float mean = mean_.size() == 1 ? mean_[0] : mean_[k];
      const float std = std_.size() == 1 ? std_[0] : std_[k];
      scale[k] = 1.0f / (255.0f * std);
      bias[k] = -mean / std;
    }
    const uint8_t* src = tensor.data.data();
    float* dst = reinterpret_cast<float*>(out);
    if (chw_ && c > 1) {
      NormalizePlanar(src, dst, pixels, c, scale.data(), bias.data());
    } else if (c == 3) {
      NormalizeInterleaved<3>(src, dst, pixels, scale.data(), bias.data());
    } else if (c == 1) {
      NormalizeInterleaved<1>(src, dst, pixels, scale.data(), bias.data());
    } else if (c == 4) {
      NormalizeInterleaved<4>(src, dst, pixels, scale.data(), bias.data());
    } else {
      for (int64_t i = 0; i < pixels * c; ++i) dst[i] = src[i] * scale[i % c] + bias[i % c];
    }
  }

 private:
  const std::string tensor_;
  const std::vector<float> mean_;
  const std::vector<float> std_;
  const bool chw_;
};

// Adds one random offset in [-max_delta, max_delta] to every byte of a uint8 tensor. The
// offset comes from the sample's seed: the same sample gets the same offset in every run,
// shard, stream and concurrency setting.
class RandomBrightnessOp final : public Op {
 public:
  RandomBrightnessOp(std::string tensor, int64_t max_delta)
      : tensor_(std::move(tensor)), max_delta_(max_delta) {}
  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    absl::StatusOr<Tensor*> found = sample.Find(tensor_);
    if (!found.ok()) return found.status();
    Tensor& tensor = **found;
    if (tensor.dtype != DType::kUint8) {
      return absl::InvalidArgumentError(absl::StrCat("op 'random_brightness': tensor '", tensor_,
                                                     "' must be uint8, got ",
                                                     DTypeName(tensor.dtype)));
    }
    const int64_t delta =
        static_cast<int64_t>(sample.seed % static_cast<uint64_t>(2 * max_delta_ + 1)) - max_delta_;
    for (uint8_t& byte : tensor.data) {
      byte = static_cast<uint8_t>(std::clamp<int64_t>(byte + delta, 0, 255));
    }
    return sample;
  }

 private:
  const std::string tensor_;
  const int64_t max_delta_;
};

}  // namespace

absl::Status RegisterGenericOps(OpRegistry& registry) {
  const ArgSpec image_tensor{
      .name = "tensor", .default_value = "image", .help = "the tensor to change"};
  const OpSpec specs[] = {
      {.name = "cpu_cost",
       .summary = "Busy CPU work per sample, standing for decoding in load tests.",
       .args = {{.name = "micros",
                 .type = ArgType::kInt,
                 .default_value = "100",
                 .min = 0,
                 .max = 60'000'000,
                 .help = "microseconds of work per sample"}},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         return std::make_unique<CpuCostOp>(absl::Microseconds(args.Int("micros")));
       }},
      {.name = "latency",
       .summary = "Waits without holding a thread, like a remote read (load tests).",
       .async = true,
       .args = {{.name = "millis",
                 .type = ArgType::kDouble,
                 .default_value = "1.0",
                 .min = 0,
                 .max = 3'600'000,
                 .help = "milliseconds each sample waits"}},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         return std::make_unique<LatencyOp>(absl::Milliseconds(args.Double("millis")));
       }},
      {.name = "cast",
       .summary = "Converts a tensor's elements to another dtype (to uint8: rounds and clamps).",
       .args = {image_tensor,
                {.name = "dtype",
                 .help = "the new dtype: uint8, int32, int64, float32 or float64 (the tensor's "
                         "own dtype must be one of these too)"}},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         absl::StatusOr<DType> dtype = ParseDType(args.String("dtype"));
         if (!dtype.ok()) return args.Error(dtype.status().message());
         if (!Castable(*dtype)) {
           return args.Error(absl::StrCat("cannot cast to ", args.String("dtype"),
                                          " (supported: uint8, int32, int64, float32, float64)"));
         }
         return std::make_unique<CastOp>(args.String("tensor"), *dtype);
       }},
      {.name = "normalize",
       .summary = "uint8 [H, W, C] -> float32 ((x / 255) - mean[c]) / std[c].",
       .args = {image_tensor,
                {.name = "mean",
                 .type = ArgType::kDoubleList,
                 .default_value = "0",
                 .help = "1 or C values, one per channel"},
                {.name = "std",
                 .type = ArgType::kDoubleList,
                 .default_value = "1",
                 .min = 0,
                 .exclusive_min = true,
                 .help = "1 or C values, one per channel"},
                {.name = "layout",
                 .default_value = "hwc",
                 .help = "the output's layout: hwc ([H, W, C]) or chw ([C, H, W])"}},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         const std::string& layout = args.String("layout");
         if (layout != "hwc" && layout != "chw") {
           return args.Error(absl::StrCat("layout must be 'hwc' or 'chw', got '", layout, "'"));
         }
         const std::vector<double>& mean = args.DoubleList("mean");
         const std::vector<double>& std = args.DoubleList("std");
         return std::make_unique<NormalizeOp>(
             args.String("tensor"), std::vector<float>(mean.begin(), mean.end()),
             std::vector<float>(std.begin(), std.end()), layout == "chw");
       }},
      {.name = "random_brightness",
       .summary = "Adds one offset in [-max_delta, max_delta], drawn from the sample's seed, to "
                  "every byte of a uint8 tensor (clamped to [0, 255]).",
       .args = {image_tensor,
                {.name = "max_delta",
                 .type = ArgType::kInt,
                 .default_value = "32",
                 .min = 0,
                 .max = 255,
                 .help = "the largest offset"}},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         return std::make_unique<RandomBrightnessOp>(args.String("tensor"), args.Int("max_delta"));
       }},
  };
  for (const OpSpec& spec : specs) {
    if (absl::Status status = registry.Register(spec); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace dataloader::server
