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
#include "server/ops/op.h"

namespace dataloader::server {
namespace {

absl::Status ArgError(const std::string& op, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("op '", op, "': ", what));
}

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

absl::StatusOr<std::vector<float>> ParseFloatList(const std::string& op, const std::string& key,
                                                  const std::string& text) {
  std::vector<float> values;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    float value = 0;
    if (!absl::SimpleAtof(part, &value)) {
      return ArgError(op, absl::StrCat("argument '", key,
                                       "' must be numbers separated by ',', got '", text, "'"));
    }
    values.push_back(value);
  }
  return values;
}

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

void RegisterGenericOps(OpRegistry& registry) {
  auto must = [](absl::Status status) {
    if (!status.ok()) std::abort();  // Built-in names are unique: a clash is a bug here.
  };
  must(registry.Register("cpu_cost", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
    absl::StatusOr<int64_t> micros = args.GetInt("micros", 100);
    if (!micros.ok()) return micros.status();
    if (*micros < 0)
      return ArgError("cpu_cost", absl::StrCat("micros must be >= 0, got ", *micros));
    return std::make_unique<CpuCostOp>(absl::Microseconds(*micros));
  }));
  must(registry.Register("latency", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
    absl::StatusOr<double> millis = args.GetDouble("millis", 1.0);
    if (!millis.ok()) return millis.status();
    if (*millis < 0) return ArgError("latency", absl::StrCat("millis must be >= 0, got ", *millis));
    return std::make_unique<LatencyOp>(absl::Milliseconds(*millis));
  }));
  must(registry.Register("cast", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
    absl::StatusOr<std::string> tensor = args.GetString("tensor", "image");
    absl::StatusOr<std::string> dtype_name = args.GetString("dtype", std::nullopt);
    if (!tensor.ok()) return tensor.status();
    if (!dtype_name.ok()) return dtype_name.status();
    absl::StatusOr<DType> dtype = ParseDType(*dtype_name);
    if (!dtype.ok()) return ArgError("cast", std::string(dtype.status().message()));
    if (!Castable(*dtype)) {
      return ArgError("cast", absl::StrCat("cannot cast to ", *dtype_name,
                                           " (supported: uint8, int32, int64, float32, float64)"));
    }
    return std::make_unique<CastOp>(*tensor, *dtype);
  }));
  must(registry.Register("normalize", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
    absl::StatusOr<std::string> tensor = args.GetString("tensor", "image");
    absl::StatusOr<std::string> mean = args.GetString("mean", "0");
    absl::StatusOr<std::string> std = args.GetString("std", "1");
    absl::StatusOr<std::string> layout = args.GetString("layout", "hwc");
    for (const auto* each : {&tensor, &mean, &std, &layout}) {
      if (!each->ok()) return each->status();
    }
    if (*layout != "hwc" && *layout != "chw") {
      return ArgError("normalize",
                      absl::StrCat("layout must be 'hwc' or 'chw', got '", *layout, "'"));
    }
    absl::StatusOr<std::vector<float>> means = ParseFloatList("normalize", "mean", *mean);
    absl::StatusOr<std::vector<float>> stds = ParseFloatList("normalize", "std", *std);
    if (!means.ok()) return means.status();
    if (!stds.ok()) return stds.status();
    for (float s : *stds) {
      if (s == 0) return ArgError("normalize", "std must not be 0");
    }
    return std::make_unique<NormalizeOp>(*tensor, *means, *stds, *layout == "chw");
  }));
  must(registry.Register(
      "random_brightness", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
        absl::StatusOr<std::string> tensor = args.GetString("tensor", "image");
        absl::StatusOr<int64_t> delta = args.GetInt("max_delta", 32);
        if (!tensor.ok()) return tensor.status();
        if (!delta.ok()) return delta.status();
        if (*delta < 0 || *delta > 255) {
          return ArgError("random_brightness",
                          absl::StrCat("max_delta must be in [0, 255], got ", *delta));
        }
        return std::make_unique<RandomBrightnessOp>(*tensor, *delta);
      }));
}

}  // namespace dataloader::server
