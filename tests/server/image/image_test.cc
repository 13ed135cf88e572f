// Copyright 2026 The dataloader Authors.
//
// Decoding against reference decodes (Pillow's, committed in tests/data/images), every bad
// file kind, DCT scaling, resize against Pillow within a stated tolerance, and the crop /
// flip transforms.
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/image/codec.h"
#include "server/image/transform.h"

namespace dataloader::server::image {
namespace {

using ::testing::HasSubstr;

const std::string kDir = std::string(DL_TEST_DATA_DIR) + "/images/";

std::vector<uint8_t> ReadBytes(const std::string& name) {
  std::ifstream in(kDir + name, std::ios::binary);
  EXPECT_TRUE(in) << "missing fixture " << name;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A binary PPM (P6, maxval 255) as uint8 [H, W, 3].
Tensor ReadPpm(const std::string& name) {
  std::vector<uint8_t> bytes = ReadBytes(name);
  std::string text(bytes.begin(), bytes.end());
  std::istringstream header(text);
  std::string magic;
  int width = 0, height = 0, maxval = 0;
  header >> magic >> width >> height >> maxval;
  EXPECT_EQ(magic, "P6");
  EXPECT_EQ(maxval, 255);
  const size_t start = static_cast<size_t>(header.tellg()) + 1;  // One whitespace byte.
  Tensor image{.name = "image", .dtype = DType::kUint8, .shape = {height, width, 3}, .data = {}};
  image.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(start), bytes.end());
  EXPECT_EQ(image.data.size(), static_cast<size_t>(width) * height * 3);
  return image;
}

int MaxAbsDiff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape, b.shape);
  if (a.data.size() != b.data.size()) return 256;
  int worst = 0;
  for (size_t i = 0; i < a.data.size(); ++i)
    worst = std::max(worst, std::abs(a.data[i] - b.data[i]));
  return worst;
}

class ReferenceDecodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceDecodeTest, EqualsPillowExactly) {
  absl::StatusOr<Tensor> decoded = DecodeImage(ReadBytes(GetParam()), {});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const Tensor reference = ReadPpm(GetParam() + ".ref.ppm");
  EXPECT_EQ(decoded->shape, (std::vector<int64_t>{45, 61, 3}));
  EXPECT_EQ(MaxAbsDiff(*decoded, reference), 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ReferenceDecodeTest,
                         ::testing::Values("rgb_420.jpg", "rgb_444.jpg", "progressive.jpg",
                                           "gray.jpg", "cmyk.jpg", "rgb.png", "rgba.png",
                                           "gray.png", "palette.png", "gray16.png",
                                           "interlaced.png"));

struct BadFile {
  std::string name;
  std::string message;
};

class BadFileTest : public ::testing::TestWithParam<BadFile> {};

TEST_P(BadFileTest, FailsWithAClearError) {
  absl::StatusOr<Tensor> decoded = DecodeImage(ReadBytes(GetParam().name), {});
  EXPECT_TRUE(absl::IsInvalidArgument(decoded.status())) << decoded.status();
  EXPECT_THAT(decoded.status().message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, BadFileTest,
    ::testing::Values(
        BadFile{"truncated.jpg", "cannot decode JPEG: Premature end of JPEG file"},
        BadFile{"corrupt.jpg", "cannot decode JPEG: Corrupt JPEG data"},
        BadFile{"zero_bytes.jpg", "empty file (0 bytes)"},
        BadFile{"not_an_image.jpg", "not a JPEG or PNG image (starts with bytes"},
        BadFile{"unsupported.gif", "unsupported image format GIF"},
        BadFile{"truncated.png", "cannot decode PNG"}, BadFile{"corrupt.png", "cannot decode PNG"},
        // The default limit (89 megapixels) refuses 30000 x 30000 from the header.
        BadFile{"bomb.jpg", "image is 30000x30000 = 900000000 pixels, over the limit"},
        BadFile{"bomb.png", "image is 30000x30000 = 900000000 pixels, over the limit"}),
    [](const ::testing::TestParamInfo<BadFile>& info) {
      std::string name = info.param.name;
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

// A failed decode must leave nothing behind on its thread: libjpeg-turbo's handle is reused
// per thread, and a truncated JPEG used to leave it in a state where every later JPEG on that
// thread failed ("Bogus Huffman table definition"), across streams and pipelines.
TEST(DecodeTest, EveryBadFileKindLeavesTheThreadAbleToDecodeGoodFiles) {
  const std::vector<std::string> bad = {"truncated.jpg",    "corrupt.jpg",     "zero_bytes.jpg",
                                        "not_an_image.jpg", "unsupported.gif", "truncated.png",
                                        "corrupt.png",      "bomb.jpg",        "bomb.png"};
  const std::vector<std::string> good = {"rgb_420.jpg",   "rgb_444.jpg", "progressive.jpg",
                                         "gray.jpg",      "cmyk.jpg",    "rgb.png",
                                         "interlaced.png"};
  for (const std::string& bad_name : bad) {
    // Twice: both the full-size path and the DCT-scaled path of the training op.
    EXPECT_FALSE(DecodeImage(ReadBytes(bad_name), {}).ok()) << bad_name;
    EXPECT_FALSE(DecodeImage(ReadBytes(bad_name), {.min_width = 8, .min_height = 8}).ok());
    for (const std::string& good_name : good) {
      absl::StatusOr<ImageInfo> info = ReadImageInfo(ReadBytes(good_name));
      ASSERT_TRUE(info.ok()) << good_name << " after " << bad_name << ": " << info.status();
      absl::StatusOr<Tensor> decoded = DecodeImage(ReadBytes(good_name), {});
      ASSERT_TRUE(decoded.ok()) << good_name << " after " << bad_name << ": " << decoded.status();
      EXPECT_EQ(MaxAbsDiff(*decoded, ReadPpm(good_name + ".ref.ppm")), 0)
          << good_name << " after " << bad_name;
    }
  }
}

// Real photos are truncated anywhere: in the tables, the header, the scan. Each cut of a
// baseline and a progressive JPEG fails alone and the next good file decodes exactly.
TEST(DecodeTest, AJpegTruncatedAnywhereLeavesNothingBehind) {
  const Tensor reference = ReadPpm("rgb_420.jpg.ref.ppm");
  const std::vector<uint8_t> good = ReadBytes("rgb_420.jpg");
  for (const std::string name : {"rgb_420.jpg", "progressive.jpg"}) {
    const std::vector<uint8_t> whole = ReadBytes(name);
    for (size_t cut = 3; cut < whole.size(); cut += 5) {
      const std::vector<uint8_t> truncated(whole.begin(), whole.begin() + cut);
      EXPECT_FALSE(DecodeImage(truncated, {}).ok()) << name << " cut at " << cut;
      absl::StatusOr<Tensor> decoded = DecodeImage(good, {});
      ASSERT_TRUE(decoded.ok()) << "after " << name << " cut at " << cut << ": "
                                << decoded.status();
      ASSERT_EQ(MaxAbsDiff(*decoded, reference), 0) << "after " << name << " cut at " << cut;
    }
  }
}

TEST(DecodeTest, PixelLimitIsConfigurable) {
  absl::StatusOr<Tensor> small = DecodeImage(ReadBytes("rgb.png"), {.max_pixels = 61 * 45 - 1});
  EXPECT_THAT(small.status().message(), HasSubstr("61x45 = 2745 pixels, over the limit of 2744"));
  EXPECT_TRUE(DecodeImage(ReadBytes("rgb.png"), {.max_pixels = 61 * 45}).ok());
}

TEST(DecodeTest, DctScalingKeepsTheRequestedSize) {
  EXPECT_EQ(ChooseJpegScale(500, 375, 0, 0).denom, 1);
  const JpegScale half = ChooseJpegScale(500, 375, 224, 160);
  EXPECT_EQ(ScaledDimension(375, half), 188);  // 375 * 4/8 rounded up >= 160...
  EXPECT_GE(ScaledDimension(500, half), 224);
  // ...and no smaller factor would do: 3/8 gives 141 < 160.
  EXPECT_EQ(half.num * 8 / half.denom, 4);

  // A decode asked to keep >= 20 px of a 61x45 JPEG comes out at 3/8: 23x17.
  absl::StatusOr<Tensor> scaled =
      DecodeImage(ReadBytes("rgb_420.jpg"), {.min_width = 20, .min_height = 16});
  ASSERT_TRUE(scaled.ok()) << scaled.status();
  EXPECT_EQ(scaled->shape, (std::vector<int64_t>{17, 23, 3}));
  // Close to the full decode box-downscaled (DCT scaling is an area-like reduction).
  const Tensor full = ReadPpm("rgb_420.jpg.ref.ppm");
  const Tensor reduced = Resize(full, 23, 17, ResizeFilter::kArea);
  EXPECT_LE(MaxAbsDiff(*scaled, reduced), 40);
}

TEST(DecodeTest, ReadImageInfoNeedsOnlyTheHeader) {
  absl::StatusOr<ImageInfo> jpeg = ReadImageInfo(ReadBytes("bomb.jpg"));
  ASSERT_TRUE(jpeg.ok()) << jpeg.status();
  EXPECT_EQ(jpeg->format, ImageFormat::kJpeg);
  EXPECT_EQ(jpeg->width, 30000);
  absl::StatusOr<ImageInfo> png = ReadImageInfo(ReadBytes("rgb.png"));
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png->format, ImageFormat::kPng);
  EXPECT_EQ(png->height, 45);
}

// Resize against Pillow on a smooth 64x48 image. Stated tolerances (max abs difference in
// 8-bit levels): area (box) shrink <= 1 at an integer factor and <= 2 otherwise; bilinear
// growth <= 2. Pillow's bilinear *shrink* antialiases and OpenCV's does not, so there only
// the mean difference is bounded.
TEST(ResizeTest, AreaShrinkMatchesPillowBox) {
  const Tensor source = ReadPpm("resize_src.ppm");
  EXPECT_LE(
      MaxAbsDiff(Resize(source, 32, 24, ResizeFilter::kArea), ReadPpm("resize_box_down_32x24.ppm")),
      1);
  EXPECT_LE(
      MaxAbsDiff(Resize(source, 23, 17, ResizeFilter::kArea), ReadPpm("resize_box_down_23x17.ppm")),
      2);
}

TEST(ResizeTest, BilinearGrowthMatchesPillow) {
  const Tensor source = ReadPpm("resize_src.ppm");
  EXPECT_LE(MaxAbsDiff(Resize(source, 97, 73, ResizeFilter::kBilinear),
                       ReadPpm("resize_bilinear_up_97x73.ppm")),
            2);
}

TEST(ResizeTest, BilinearShrinkIsCloseToPillowOnAverage) {
  const Tensor ours = Resize(ReadPpm("resize_src.ppm"), 32, 24, ResizeFilter::kBilinear);
  const Tensor pillow = ReadPpm("resize_bilinear_down_32x24.ppm");
  double total = 0;
  for (size_t i = 0; i < ours.data.size(); ++i) total += std::abs(ours.data[i] - pillow.data[i]);
  EXPECT_LE(total / ours.data.size(), 1.5);
}

TEST(TransformTest, ResizeRegionEqualsCropThenResize) {
  const Tensor source = ReadPpm("resize_src.ppm");
  const Rect region{.x = 5, .y = 7, .width = 40, .height = 30};
  EXPECT_EQ(MaxAbsDiff(ResizeRegion(source, region, 20, 15, ResizeFilter::kBilinear),
                       Resize(Crop(source, region), 20, 15, ResizeFilter::kBilinear)),
            0);
}

TEST(TransformTest, FlipMirrorsAndTwiceIsIdentity) {
  Tensor image{
      .name = "image", .dtype = DType::kUint8, .shape = {1, 3, 2}, .data = {1, 2, 3, 4, 5, 6}};
  FlipHorizontal(image);
  EXPECT_EQ(image.data, (std::vector<uint8_t>{5, 6, 3, 4, 1, 2}));
  FlipHorizontal(image);
  EXPECT_EQ(image.data, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(TransformTest, CenterCropAndShorterSideFollowTorchvision) {
  const Rect crop = CenterCropRect(256, 341, 224, 224);
  EXPECT_EQ(crop.x, 16);
  EXPECT_EQ(crop.y, 59);  // round(117 / 2) = 58.5 -> 59 (lround rounds half away from zero).
  int w = 0, h = 0;
  ShorterSideSize(500, 375, 256, w, h);
  EXPECT_EQ(w, 341);  // int(256 * 500 / 375) = 341 (truncated).
  EXPECT_EQ(h, 256);
}

TEST(TransformTest, RandomResizedCropIsDeterministicAndInside) {
  RandomResizedCropParams params;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    SampleRandom a(seed, 1), b(seed, 1);
    const Rect first = RandomResizedCropRect(500, 375, params, a);
    const Rect second = RandomResizedCropRect(500, 375, params, b);
    EXPECT_EQ(first.x, second.x);
    EXPECT_EQ(first.width, second.width);
    EXPECT_GE(first.x, 0);
    EXPECT_GE(first.y, 0);
    EXPECT_LE(first.x + first.width, 500);
    EXPECT_LE(first.y + first.height, 375);
    const double area = static_cast<double>(first.width) * first.height / (500.0 * 375);
    EXPECT_GE(area, 0.07);  // scale (0.08, 1), up to rounding.
    EXPECT_LE(area, 1.0);
  }
}

}  // namespace
}  // namespace dataloader::server::image
