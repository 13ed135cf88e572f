// Copyright 2026 The dataloader Authors.
//
// The generic ops and the op registry, through the registry as a config would use them.
#include <atomic>
#include <cstring>
#include <latch>
#include <memory>

#include "absl/status/status.h"
#include "core/cancellation.h"
#include "core/event_loop.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/ops/op_registry.h"
#include "server/pipeline/synthetic_dataset.h"
#include "tests/server/ops/test_ops.h"

namespace dataloader::server {
namespace {

using ::testing::HasSubstr;

class OpTest : public ::testing::Test {
 protected:
  std::unique_ptr<Op> Make(const std::string& name, std::map<std::string, std::string> args) {
    absl::StatusOr<std::unique_ptr<Op>> op =
        dataloader::testing::BuiltinOps().Create(name, std::move(args));
    EXPECT_TRUE(op.ok()) << op.status();
    return op.ok() ? *std::move(op) : nullptr;
  }
  absl::StatusOr<Sample> Run(const Op& op, Sample sample) {
    return op.Run(std::move(sample), TaskContext(token_, loop_, stage_));
  }
  Sample Image(int64_t index, int64_t h = 2, int64_t w = 3, int64_t c = 3) {
    auto dataset = SyntheticImageDataset::Create(
        {.num_samples = 100, .height = h, .width = w, .channels = c, .num_classes = 10});
    EXPECT_TRUE(dataset.ok());
    return *dataset->Load(index, /*sample_seed=*/1234 + index);
  }

  CancellationToken token_;
  EventLoop loop_;
  std::string stage_ = "test";
};

TEST_F(OpTest, RegistryNamesUnknownOpsAndArguments) {
  absl::Status unknown = dataloader::testing::BuiltinOps().Create("rezise", {}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(unknown));
  EXPECT_THAT(unknown.message(),
              HasSubstr("unknown op 'rezise' (known: cast, center_crop, cpu_cost"));
  absl::Status typo =
      dataloader::testing::BuiltinOps().Create("latency", {{"milis", "3"}}).status();
  EXPECT_THAT(typo.message(), HasSubstr("op 'latency': unknown argument(s) 'milis'"));
  absl::Status bad =
      dataloader::testing::BuiltinOps().Create("cpu_cost", {{"micros", "fast"}}).status();
  EXPECT_THAT(bad.message(),
              HasSubstr("op 'cpu_cost': argument 'micros' must be an integer >= 0 and <= 60000000, "
                        "got 'fast'"));
  absl::Status missing = dataloader::testing::BuiltinOps().Create("cast", {}).status();
  EXPECT_THAT(missing.message(), HasSubstr("op 'cast': missing required argument 'dtype'"));
}

TEST_F(OpTest, SyntheticSamplesAreDeterministicAndLabeled) {
  Sample a = Image(7), b = Image(7), c = Image(8);
  EXPECT_EQ(a.tensors[0].data, b.tensors[0].data);
  EXPECT_NE(a.tensors[0].data, c.tensors[0].data);
  EXPECT_EQ(a.tensors[0].shape, (std::vector<int64_t>{2, 3, 3}));
  int64_t label = 0;
  std::memcpy(&label, a.tensors[1].data.data(), 8);
  EXPECT_EQ(label, 7);
  auto dataset = SyntheticImageDataset::Create({.num_samples = 5});
  EXPECT_TRUE(absl::IsOutOfRange(dataset->Load(5, 0).status()));
  EXPECT_THAT(SyntheticImageDataset::Create({.height = 0}).status().message(),
              HasSubstr("height must be >= 1, got 0"));
}

TEST_F(OpTest, SyntheticDistinctSamplesAreGeneratedOnceAndRepeated) {
  auto generated = SyntheticImageDataset::Create({.num_samples = 10, .height = 3, .width = 5});
  auto held = SyntheticImageDataset::Create(
      {.num_samples = 10, .height = 3, .width = 5, .distinct_samples = 4});
  ASSERT_TRUE(generated.ok() && held.ok());
  for (int64_t i = 0; i < 10; ++i) {
    Sample sample = *held->Load(i, 0);
    // Image i is generated image i % 4; the label is still i's.
    EXPECT_EQ(sample.tensors[0].data, generated->Load(i % 4, 0)->tensors[0].data) << i;
    int64_t label = 0;
    std::memcpy(&label, sample.tensors[1].data.data(), 8);
    EXPECT_EQ(label, i % 10);
  }
  EXPECT_THAT(SyntheticImageDataset::Create({.distinct_samples = -1}).status().message(),
              HasSubstr("distinct_samples must be >= 0"));
  EXPECT_THAT(SyntheticImageDataset::Create(
                  {.height = 1024, .width = 1024, .channels = 3, .distinct_samples = 400})
                  .status()
                  .message(),
              HasSubstr("at most 1073741824 bytes"));
}

TEST_F(OpTest, NormalizeComputesPerChannelValuesInChw) {
  auto op = Make("normalize", {{"mean", "0.5,0.25,0"}, {"std", "0.5,0.25,1"}, {"layout", "chw"}});
  Sample sample = Image(3);
  const std::vector<uint8_t> pixels = sample.tensors[0].data;
  absl::StatusOr<Sample> out = Run(*op, std::move(sample));
  ASSERT_TRUE(out.ok()) << out.status();
  const Tensor& image = out->tensors[0];
  EXPECT_EQ(image.dtype, DType::kFloat32);
  EXPECT_EQ(image.shape, (std::vector<int64_t>{3, 2, 3}));
  const float* values = reinterpret_cast<const float*>(image.data.data());
  const float mean[] = {0.5f, 0.25f, 0}, std[] = {0.5f, 0.25f, 1};
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      for (int k = 0; k < 3; ++k) {
        const float expected = (pixels[(y * 3 + x) * 3 + k] / 255.0f - mean[k]) / std[k];
        EXPECT_NEAR(values[(k * 2 + y) * 3 + x], expected, 1e-5);
      }
    }
  }
}

// Every byte value of every channel, in both layouts, with image sizes that exercise both the
// vectorized blocks and the tail: (x / 255 - mean) / std within float rounding.
TEST_F(OpTest, NormalizeMatchesTheFormulaForEveryValueAndLayout) {
  const double mean[] = {0.485, 0.456, 0.406}, std[] = {0.229, 0.224, 0.225};
  for (const char* layout : {"chw", "hwc"}) {
    auto op =
        Make("normalize",
             {{"mean", "0.485,0.456,0.406"}, {"std", "0.229,0.224,0.225"}, {"layout", layout}});
    const bool chw = std::string(layout) == "chw";
    for (auto [h, w] : {std::pair{7, 9}, std::pair{16, 16}, std::pair{17, 13}}) {
      Sample sample;
      Tensor image{.name = "image", .dtype = DType::kUint8, .shape = {h, w, 3}, .data = {}};
      for (int i = 0; i < h * w * 3; ++i) image.data.push_back(static_cast<uint8_t>(i * 7 + i / 3));
      const std::vector<uint8_t> pixels = image.data;
      sample.tensors.push_back(std::move(image));
      absl::StatusOr<Sample> out = Run(*op, std::move(sample));
      ASSERT_TRUE(out.ok()) << out.status();
      const float* values = reinterpret_cast<const float*>(out->tensors[0].data.data());
      for (int p = 0; p < h * w; ++p) {
        for (int k = 0; k < 3; ++k) {
          const double expected = (pixels[p * 3 + k] / 255.0 - mean[k]) / std[k];
          const float got = chw ? values[k * h * w + p] : values[p * 3 + k];
          EXPECT_NEAR(got, expected, 2e-6) << layout << " pixel " << p << " channel " << k;
        }
      }
    }
  }
}

TEST_F(OpTest, NormalizeFailsTheSampleOnAWrongTensor) {
  auto op = Make("normalize", {{"tensor", "label"}});
  absl::Status status = Run(*op, Image(1)).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(status.message(), HasSubstr("tensor 'label' must be uint8 [H, W, C], got int64"));
  auto missing = Make("normalize", {{"tensor", "depth"}});
  EXPECT_TRUE(absl::IsNotFound(Run(*missing, Image(1)).status()));
}

TEST_F(OpTest, CastRoundTripsAndClamps) {
  auto to_float = Make("cast", {{"dtype", "float32"}});
  auto to_uint8 = Make("cast", {{"dtype", "uint8"}});
  Sample sample = Image(5);
  const std::vector<uint8_t> pixels = sample.tensors[0].data;
  absl::StatusOr<Sample> as_float = Run(*to_float, std::move(sample));
  ASSERT_TRUE(as_float.ok());
  EXPECT_EQ(as_float->tensors[0].data.size(), pixels.size() * 4);
  absl::StatusOr<Sample> back = Run(*to_uint8, *std::move(as_float));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->tensors[0].data, pixels);
  EXPECT_THAT(
      dataloader::testing::BuiltinOps().Create("cast", {{"dtype", "complex64"}}).status().message(),
      HasSubstr("unknown dtype 'complex64'"));
}

TEST_F(OpTest, RandomBrightnessDependsOnlyOnTheSampleSeed) {
  auto op = Make("random_brightness", {{"max_delta", "40"}});
  absl::StatusOr<Sample> first = Run(*op, Image(9));
  absl::StatusOr<Sample> again = Run(*op, Image(9));
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(first->tensors[0].data, again->tensors[0].data);
  Sample other_seed = Image(9);
  other_seed.seed += 1;
  absl::StatusOr<Sample> other = Run(*op, std::move(other_seed));
  EXPECT_NE(first->tensors[0].data, other->tensors[0].data);
}

TEST_F(OpTest, LatencyOpCompletesOnTheLoopWithoutBlockingTheCaller) {
  auto op = Make("latency", {{"millis", "100"}});
  ASSERT_TRUE(op->IsAsync());
  std::latch done(1);
  std::atomic<int64_t> index{-1};
  const absl::Time start = absl::Now();
  op->Start(Image(4), Completion<Sample>([&](absl::StatusOr<Sample> sample) {
              index = sample.ok() ? sample->index : -2;
              done.count_down();
            }),
            TaskContext(token_, loop_, stage_));
  EXPECT_EQ(index.load(), -1);  // Start returned; the completion comes later, from the loop.
  done.wait();
  EXPECT_EQ(index.load(), 4);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
}

}  // namespace
}  // namespace dataloader::server
