// Copyright 2026 The dataloader Authors.
//
// Image ops: decode, and the geometric augmentations of an image
// classification pipeline (torchvision's RandomResizedCrop, RandomHorizontalFlip, Resize,
// CenterCrop). Random ops draw from SampleRandom (the sample's seed and the op's salt), so a
// stream is the same whatever the concurrency and when resumed.
//
// decode_random_resized_crop fuses decode, random resized crop and flip: it plans the crop
// from the JPEG header, then decodes at the smallest DCT scale that keeps the crop at least
// the output size. That is the same picture as cropping the full-size decode (the crop is
// never upsampled more than it would be) at a fraction of the decoding cost.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/image/codec.h"
#include "server/image/transform.h"
#include "server/ops/builtin_ops.h"
#include "server/ops/op.h"
#include "server/pipeline/sample_random.h"

namespace dataloader::server {
namespace {

using image::DecodeOptions;
using image::Rect;
using image::ResizeFilter;

// Salts: each random op draws its own numbers from the sample's seed.
constexpr uint64_t kCropSalt = 0x52524352;  // "RRCR"
constexpr uint64_t kFlipSalt = 0x464C4950;  // "FLIP"

// A pool thread keeps its decode buffer between samples up to this size (a 4096 x 4096 RGB
// image); a larger image's buffer is freed after use, so memory stays bounded by threads.
constexpr size_t kMaxScratchBytes = size_t{48} << 20;

// Errors of one sample name its file (or index) and the op.
absl::Status SampleError(const Sample& sample, absl::string_view op, const absl::Status& error) {
  return absl::Status(error.code(),
                      absl::StrCat(sample.Describe(), ": ", op, ": ", error.message()));
}

// ---------------------------------------------------------------------------------------------
// decode_image: encoded bytes → uint8 [H, W, 3]; JPEGs DCT-downscaled while the shorter side
// stays >= min_size.
class DecodeImageOp final : public Op {
 public:
  DecodeImageOp(std::string input, std::string output, DecodeOptions options)
      : input_(std::move(input)), output_(std::move(output)), options_(options) {}

  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    absl::StatusOr<Tensor> encoded = sample.Take(input_);
    if (!encoded.ok()) return SampleError(sample, "decode_image", encoded.status());
    absl::StatusOr<Tensor> decoded = image::DecodeImage(encoded->data, options_, output_);
    if (!decoded.ok()) return SampleError(sample, "decode_image", decoded.status());
    sample.tensors.push_back(*std::move(decoded));
    return sample;
  }

 private:
  const std::string input_, output_;
  const DecodeOptions options_;
};

// Base of the ops that transform one image tensor in place.
class ImageOp : public Op {
 public:
  ImageOp(std::string name, std::string tensor)
      : name_(std::move(name)), tensor_(std::move(tensor)) {}

  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const final {
    absl::StatusOr<Tensor*> found = sample.Find(tensor_);
    if (!found.ok()) return SampleError(sample, name_, found.status());
    if (absl::Status ok = image::CheckImage(**found, name_); !ok.ok()) {
      return SampleError(sample, name_, ok);
    }
    Transform(**found, sample.seed);
    return sample;
  }

 protected:
  virtual void Transform(Tensor& image, uint64_t sample_seed) const = 0;

 private:
  const std::string name_, tensor_;
};

class ResizeOp final : public ImageOp {
 public:
  // shorter_side > 0: keep the aspect ratio; else to height x width.
  ResizeOp(std::string tensor, int height, int width, int shorter_side, ResizeFilter filter)
      : ImageOp("resize", std::move(tensor)),
        height_(height),
        width_(width),
        shorter_side_(shorter_side),
        filter_(filter) {}

 private:
  void Transform(Tensor& image, uint64_t) const override {
    int width = width_, height = height_;
    if (shorter_side_ > 0) {
      image::ShorterSideSize(image::ImageWidth(image), image::ImageHeight(image), shorter_side_,
                             width, height);
    }
    image = image::Resize(image, width, height, filter_);
  }
  const int height_, width_, shorter_side_;
  const ResizeFilter filter_;
};

class CenterCropOp final : public ImageOp {
 public:
  CenterCropOp(std::string tensor, int height, int width)
      : ImageOp("center_crop", std::move(tensor)), height_(height), width_(width) {}

 private:
  void Transform(Tensor& image, uint64_t) const override {
    const int w = image::ImageWidth(image), h = image::ImageHeight(image);
    if (w < width_ || h < height_) {
      // Smaller than the crop (as torchvision): pad with zeros around the centered image.
      Tensor padded{.name = image.name,
                    .dtype = DType::kUint8,
                    .shape = {height_, width_, image.shape[2]},
                    .data = {}};
      padded.data.assign(static_cast<size_t>(height_) * width_ * image.shape[2], 0);
      const Rect from = image::CenterCropRect(w, h, width_, height_);
      const int top = std::max(0, (height_ - h) / 2), left = std::max(0, (width_ - w) / 2);
      const size_t pixel = static_cast<size_t>(image.shape[2]);
      for (int y = 0; y < from.height; ++y) {
        std::memcpy(&padded.data[((static_cast<size_t>(top) + y) * width_ + left) * pixel],
                    &image.data[((static_cast<size_t>(from.y) + y) * w + from.x) * pixel],
                    static_cast<size_t>(from.width) * pixel);
      }
      image = std::move(padded);
      return;
    }
    image = image::Crop(image, image::CenterCropRect(w, h, width_, height_));
  }
  const int height_, width_;
};

class RandomResizedCropOp final : public ImageOp {
 public:
  RandomResizedCropOp(std::string tensor, int height, int width,
                      image::RandomResizedCropParams params, ResizeFilter filter)
      : ImageOp("random_resized_crop", std::move(tensor)),
        height_(height),
        width_(width),
        params_(params),
        filter_(filter) {}

 private:
  void Transform(Tensor& image, uint64_t sample_seed) const override {
    SampleRandom random(sample_seed, kCropSalt);
    const Rect crop = image::RandomResizedCropRect(image::ImageWidth(image),
                                                   image::ImageHeight(image), params_, random);
    image = image::ResizeRegion(image, crop, width_, height_, filter_);
  }
  const int height_, width_;
  const image::RandomResizedCropParams params_;
  const ResizeFilter filter_;
};

class RandomHorizontalFlipOp final : public ImageOp {
 public:
  RandomHorizontalFlipOp(std::string tensor, double p)
      : ImageOp("random_horizontal_flip", std::move(tensor)), p_(p) {}

 private:
  void Transform(Tensor& image, uint64_t sample_seed) const override {
    SampleRandom random(sample_seed, kFlipSalt);
    if (random.Uniform() < p_) image::FlipHorizontal(image);
  }
  const double p_;
};

// ---------------------------------------------------------------------------------------------
class DecodeRandomResizedCropOp final : public Op {
 public:
  struct Options {
    std::string input, output;
    int height = 224, width = 224;
    image::RandomResizedCropParams crop{};
    ResizeFilter filter = ResizeFilter::kBilinear;
    double flip = 0.5;
    int64_t max_pixels = image::kDefaultMaxPixels;
  };
  explicit DecodeRandomResizedCropOp(Options options) : options_(std::move(options)) {}

  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    constexpr absl::string_view kName = "decode_random_resized_crop";
    absl::StatusOr<Tensor> encoded = sample.Take(options_.input);
    if (!encoded.ok()) return SampleError(sample, kName, encoded.status());
    absl::StatusOr<image::ImageInfo> info = image::ReadImageInfo(encoded->data);
    if (!info.ok()) return SampleError(sample, kName, info.status());

    // The crop, planned on the full-size image (as the unfused ops would).
    SampleRandom crop_random(sample.seed, kCropSalt);
    Rect crop = image::RandomResizedCropRect(info->width, info->height, options_.crop, crop_random);

    // Decode at the smallest scale keeping the crop >= the output size.
    DecodeOptions decode{.max_pixels = options_.max_pixels};
    if (info->format == image::ImageFormat::kJpeg) {
      const image::JpegScale scale =
          image::ChooseJpegScale(crop.width, crop.height, options_.width, options_.height);
      // Asking for the whole image's scaled size picks the same factor as the crop's.
      decode.min_width = image::ScaledDimension(info->width, scale);
      decode.min_height = image::ScaledDimension(info->height, scale);
    }
    // The full decode is only an intermediate: one buffer per pool thread, reused.
    thread_local Tensor scratch;
    Tensor* decoded = &scratch;
    if (absl::Status ok = image::DecodeImageInto(encoded->data, decode, scratch); !ok.ok()) {
      return SampleError(sample, kName, ok);
    }
    encoded->data = {};  // The encoded bytes are no longer needed.

    // The crop in the decoded image's coordinates.
    const double sx = static_cast<double>(image::ImageWidth(*decoded)) / info->width;
    const double sy = static_cast<double>(image::ImageHeight(*decoded)) / info->height;
    Rect scaled{.x = static_cast<int>(crop.x * sx),
                .y = static_cast<int>(crop.y * sy),
                .width = std::max(1, static_cast<int>(std::lround(crop.width * sx))),
                .height = std::max(1, static_cast<int>(std::lround(crop.height * sy)))};
    scaled.width = std::min(scaled.width, image::ImageWidth(*decoded) - scaled.x);
    scaled.height = std::min(scaled.height, image::ImageHeight(*decoded) - scaled.y);
    Tensor out =
        image::ResizeRegion(*decoded, scaled, options_.width, options_.height, options_.filter);
    out.name = options_.output;
    // Keep the scratch for the next sample unless an unusually large image grew it.
    if (scratch.data.capacity() > kMaxScratchBytes) scratch.data = {};
    SampleRandom flip_random(sample.seed, kFlipSalt);
    if (flip_random.Uniform() < options_.flip) image::FlipHorizontal(out);
    sample.tensors.push_back(std::move(out));
    return sample;
  }

 private:
  const Options options_;
};

// Crop parameters from the declared (and checked) scale and ratio ranges.
image::RandomResizedCropParams CropParams(const OpArgs& args) {
  const auto [scale_min, scale_max] = args.Range("scale");
  const auto [ratio_min, ratio_max] = args.Range("ratio");
  return image::RandomResizedCropParams{.scale_min = scale_min,
                                        .scale_max = scale_max,
                                        .ratio_min = ratio_min,
                                        .ratio_max = ratio_max};
}

absl::StatusOr<ResizeFilter> Filter(const OpArgs& args) {
  absl::StatusOr<ResizeFilter> filter = image::ParseResizeFilter(args.String("filter"));
  if (!filter.ok()) return args.Error(filter.status().message());
  return filter;
}

}  // namespace

absl::Status RegisterImageOps(OpRegistry& registry) {
  const ArgSpec tensor{.name = "tensor", .default_value = "image", .help = "the image tensor"};
  const ArgSpec input{
      .name = "input", .default_value = "encoded", .help = "the encoded bytes (read_file's)"};
  const ArgSpec output{.name = "tensor", .default_value = "image", .help = "the decoded image"};
  const ArgSpec max_pixels{.name = "max_pixels",
                           .type = ArgType::kInt,
                           .default_value = absl::StrCat(image::kDefaultMaxPixels),
                           .min = 1,
                           .help =
                               "larger images fail their sample, checked from the header "
                               "before any pixel memory is taken (decompression bombs)"};
  const ArgSpec filter{.name = "filter",
                       .default_value = "bilinear",
                       .help = "bilinear, or area (box average when shrinking: no aliasing)"};
  const ArgSpec scale{.name = "scale",
                      .type = ArgType::kRange,
                      .default_value = "0.08,1",
                      .min = 0,
                      .max = 1,
                      .exclusive_min = true,
                      .help = "the crop's area as a fraction of the image's"};
  const ArgSpec ratio{.name = "ratio",
                      .type = ArgType::kRange,
                      .default_value = "0.75,1.3333333333333333",
                      .min = 0,
                      .exclusive_min = true,
                      .help = "the crop's aspect ratio (width / height), drawn log-uniformly"};
  const OpSpec specs[] = {
      {.name = "decode_image",
       .summary = "Decodes JPEG (libjpeg-turbo; grayscale and CMYK too) or PNG (libspng) to "
                  "uint8 [H, W, 3] RGB, replacing the encoded tensor.",
       .args = {input,
                output,
                max_pixels,
                {.name = "min_size",
                 .type = ArgType::kInt,
                 .default_value = "0",
                 .min = 0,
                 .max = 65535,
                 .help = "JPEGs are decoded with DCT scaling (1/8 steps) as small as keeps the "
                         "shorter side >= this; 0: full size"}},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         const int min_size = static_cast<int>(args.Int("min_size"));
         return std::make_unique<DecodeImageOp>(args.String("input"), args.String("tensor"),
                                                DecodeOptions{.max_pixels = args.Int("max_pixels"),
                                                              .min_width = min_size,
                                                              .min_height = min_size});
       }},
      {.name = "resize",
       .summary = "Resizes to a fixed size, or the shorter side to a length keeping the aspect "
                  "ratio (the long side truncated, as torchvision).",
       .args = {tensor,
                {.name = "size",
                 .type = ArgType::kSize,
                 .optional = true,
                 .help = "N or HEIGHT,WIDTH; give exactly one of size and shorter_side"},
                {.name = "shorter_side",
                 .type = ArgType::kInt,
                 .optional = true,
                 .min = 1,
                 .max = 65535,
                 .help = "the shorter side's new length, keeping the aspect ratio"},
                filter},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         if (args.Given("size") == args.Given("shorter_side")) {
           return args.Error("give exactly one of 'size' (N or HEIGHT,WIDTH) and 'shorter_side'");
         }
         absl::StatusOr<ResizeFilter> resize_filter = Filter(args);
         if (!resize_filter.ok()) return resize_filter.status();
         const ImageSize size = args.Given("size") ? args.Size("size") : ImageSize{};
         const int shorter =
             args.Given("shorter_side") ? static_cast<int>(args.Int("shorter_side")) : 0;
         return std::make_unique<ResizeOp>(args.String("tensor"), size.height, size.width, shorter,
                                           *resize_filter);
       }},
      {.name = "center_crop",
       .summary = "The centered region of `size` (zero-padded if the image is smaller).",
       .args = {tensor, {.name = "size", .type = ArgType::kSize, .help = "N or HEIGHT,WIDTH"}},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         const ImageSize size = args.Size("size");
         return std::make_unique<CenterCropOp>(args.String("tensor"), size.height, size.width);
       }},
      {.name = "random_resized_crop",
       .summary = "torchvision's RandomResizedCrop: a region of random area fraction and aspect "
                  "ratio, drawn from the sample's seed, resized to `size`.",
       .args = {tensor,
                {.name = "size", .type = ArgType::kSize, .help = "N or HEIGHT,WIDTH"},
                scale,
                ratio,
                filter},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         absl::StatusOr<ResizeFilter> resize_filter = Filter(args);
         if (!resize_filter.ok()) return resize_filter.status();
         const ImageSize size = args.Size("size");
         return std::make_unique<RandomResizedCropOp>(args.String("tensor"), size.height,
                                                      size.width, CropParams(args), *resize_filter);
       }},
      {.name = "random_horizontal_flip",
       .summary = "Mirrors the image with probability p, drawn from the sample's seed.",
       .args = {tensor,
                {.name = "p",
                 .type = ArgType::kDouble,
                 .default_value = "0.5",
                 .min = 0,
                 .max = 1,
                 .help = "the probability of a flip"}},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         return std::make_unique<RandomHorizontalFlipOp>(args.String("tensor"), args.Double("p"));
       }},
      {.name = "decode_random_resized_crop",
       .summary = "decode_image + random_resized_crop + random_horizontal_flip in one op: the "
                  "crop is planned from the header, then a JPEG is decoded at the smallest DCT "
                  "scale keeping the crop >= size (much cheaper; the same picture).",
       .args = {input,
                output,
                {.name = "size",
                 .type = ArgType::kSize,
                 .default_value = "224",
                 .help = "N or HEIGHT,WIDTH"},
                scale,
                ratio,
                filter,
                {.name = "flip",
                 .type = ArgType::kDouble,
                 .default_value = "0.5",
                 .min = 0,
                 .max = 1,
                 .help = "the probability of a horizontal flip"},
                max_pixels},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         absl::StatusOr<ResizeFilter> resize_filter = Filter(args);
         if (!resize_filter.ok()) return resize_filter.status();
         const ImageSize size = args.Size("size");
         return std::make_unique<DecodeRandomResizedCropOp>(
             DecodeRandomResizedCropOp::Options{.input = args.String("input"),
                                                .output = args.String("tensor"),
                                                .height = size.height,
                                                .width = size.width,
                                                .crop = CropParams(args),
                                                .filter = *resize_filter,
                                                .flip = args.Double("flip"),
                                                .max_pixels = args.Int("max_pixels")});
       }},
  };
  for (const OpSpec& spec : specs) {
    if (absl::Status status = registry.Register(spec); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace dataloader::server
