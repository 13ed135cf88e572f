// Copyright 2026 The dataloader Authors.
//
// Image ops: read a file, decode it, and the geometric augmentations of an image
// classification pipeline (torchvision's RandomResizedCrop, RandomHorizontalFlip, Resize,
// CenterCrop). Random ops draw from SampleRandom (the sample's seed and the op's salt), so a
// stream is the same whatever the concurrency and when resumed.
//
// decode_random_resized_crop fuses decode, random resized crop and flip: it plans the crop
// from the JPEG header, then decodes at the smallest DCT scale that keeps the crop at least
// the output size. That is the same picture as cropping the full-size decode (the crop is
// never upsampled more than it would be) at a fraction of the decoding cost.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/image/codec.h"
#include "server/image/transform.h"
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

absl::Status ArgError(const std::string& op, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("op '", op, "': ", what));
}

// Errors of one sample name its file (or index) and the op.
absl::Status SampleError(const Sample& sample, absl::string_view op, const absl::Status& error) {
  return absl::Status(error.code(),
                      absl::StrCat(sample.Describe(), ": ", op, ": ", error.message()));
}

// "224" (square) or "height,width".
absl::StatusOr<std::pair<int, int>> ParseSizeText(const std::string& op, const std::string& key,
                                                  const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, ',');
  int height = 0, width = 0;
  const bool ok = (parts.size() == 1 && absl::SimpleAtoi(parts[0], &height) && (width = height)) ||
                  (parts.size() == 2 && absl::SimpleAtoi(parts[0], &height) &&
                   absl::SimpleAtoi(parts[1], &width));
  if (!ok || height < 1 || width < 1 || height > 65535 || width > 65535) {
    return ArgError(op, absl::StrCat("argument '", key,
                                     "' must be N or HEIGHT,WIDTH with values in [1, 65535], got '",
                                     text, "'"));
  }
  return std::make_pair(height, width);
}

absl::StatusOr<std::pair<int, int>> ParseSize(OpArgs& args, const std::string& key,
                                              std::optional<std::string> default_value) {
  absl::StatusOr<std::string> text = args.GetString(key, std::move(default_value));
  if (!text.ok()) return text.status();
  return ParseSizeText(args.op(), key, *text);
}

// "low,high" with low <= high.
absl::StatusOr<std::pair<double, double>> ParseRange(OpArgs& args, const std::string& key,
                                                     const std::string& default_value,
                                                     double min_low) {
  absl::StatusOr<std::string> text = args.GetString(key, default_value);
  if (!text.ok()) return text.status();
  std::vector<std::string> parts = absl::StrSplit(*text, ',');
  double low = 0, high = 0;
  if (parts.size() != 2 || !absl::SimpleAtod(parts[0], &low) ||
      !absl::SimpleAtod(parts[1], &high) || !(low > min_low) || !(low <= high)) {
    return ArgError(args.op(), absl::StrCat("argument '", key, "' must be LOW,HIGH with ", min_low,
                                            " < LOW <= HIGH, got '", *text, "'"));
  }
  return std::make_pair(low, high);
}

absl::StatusOr<ResizeFilter> ParseFilter(OpArgs& args) {
  absl::StatusOr<std::string> name = args.GetString("filter", "bilinear");
  if (!name.ok()) return name.status();
  absl::StatusOr<ResizeFilter> filter = image::ParseResizeFilter(*name);
  if (!filter.ok()) return ArgError(args.op(), std::string(filter.status().message()));
  return filter;
}

absl::StatusOr<int64_t> ParseMaxPixels(OpArgs& args) {
  absl::StatusOr<int64_t> max_pixels = args.GetInt("max_pixels", image::kDefaultMaxPixels);
  if (max_pixels.ok() && *max_pixels < 1) {
    return ArgError(args.op(), absl::StrCat("max_pixels must be >= 1, got ", *max_pixels));
  }
  return max_pixels;
}

absl::StatusOr<image::RandomResizedCropParams> ParseCropParams(OpArgs& args) {
  absl::StatusOr<std::pair<double, double>> scale = ParseRange(args, "scale", "0.08,1", 0);
  if (!scale.ok()) return scale.status();
  absl::StatusOr<std::pair<double, double>> ratio =
      ParseRange(args, "ratio", "0.75,1.3333333333333333", 0);
  if (!ratio.ok()) return ratio.status();
  if (scale->second > 1) {
    return ArgError(args.op(),
                    absl::StrCat("scale must be within (0, 1], got high ", scale->second));
  }
  return image::RandomResizedCropParams{.scale_min = scale->first,
                                        .scale_max = scale->second,
                                        .ratio_min = ratio->first,
                                        .ratio_max = ratio->second};
}

absl::StatusOr<double> ParseProbability(OpArgs& args, const std::string& key,
                                        double default_value) {
  absl::StatusOr<double> p = args.GetDouble(key, default_value);
  if (p.ok() && !(*p >= 0 && *p <= 1)) {
    return ArgError(args.op(), absl::StrCat(key, " must be in [0, 1], got ", *p));
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// read_file: Sample::path under the dataset root → uint8 [n] tensor of the file's bytes.
class ReadFileOp final : public Op {
 public:
  ReadFileOp(std::string root, std::string tensor, int64_t max_bytes)
      : root_(std::move(root)), tensor_(std::move(tensor)), max_bytes_(max_bytes) {}

  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    if (sample.path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(sample.Describe(), ": read_file: the sample has no file path"));
    }
    absl::StatusOr<std::vector<uint8_t>> bytes = Read(sample.path);
    if (!bytes.ok()) return SampleError(sample, "read_file", bytes.status());
    const int64_t size = static_cast<int64_t>(bytes->size());
    sample.tensors.push_back(
        {.name = tensor_, .dtype = DType::kUint8, .shape = {size}, .data = *std::move(bytes)});
    return sample;
  }

 private:
  absl::StatusOr<std::vector<uint8_t>> Read(const std::string& relative) const {
    // Resolve symlinks and "..", then insist on staying under the root.
    const std::string joined = absl::StrCat(root_, "/", relative);
    char resolved[PATH_MAX];
    if (realpath(joined.c_str(), resolved) == nullptr) {
      return absl::NotFoundError(absl::StrCat("cannot open: ", std::strerror(errno)));
    }
    const absl::string_view real(resolved);
    if (real.size() <= root_.size() || real.substr(0, root_.size()) != root_ ||
        real[root_.size()] != '/') {
      return absl::PermissionDeniedError(
          absl::StrCat("resolves to '", real, "', outside the dataset root '", root_, "'"));
    }
    const int fd = open(resolved, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open: ", std::strerror(errno)));
    struct stat info {};
    std::vector<uint8_t> bytes;
    absl::Status status;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      status = absl::InvalidArgumentError("not a regular file");
    } else if (info.st_size > max_bytes_) {
      status = absl::InvalidArgumentError(
          absl::StrCat("file is ", info.st_size, " bytes, over max_bytes ", max_bytes_));
    } else {
      bytes.resize(static_cast<size_t>(info.st_size));
      size_t done = 0;
      while (done < bytes.size()) {
        const ssize_t n = read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          status =
              absl::DataLossError(n == 0 ? std::string("file shrank while being read")
                                         : absl::StrCat("read failed: ", std::strerror(errno)));
          break;
        }
        done += static_cast<size_t>(n);
      }
    }
    close(fd);
    if (!status.ok()) return status;
    return bytes;
  }

  const std::string root_;  // Resolved (realpath), no trailing '/'.
  const std::string tensor_;
  const int64_t max_bytes_;
};

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

}  // namespace

void RegisterImageOps(OpRegistry& registry) {
  auto must = [](absl::Status status) {
    if (!status.ok()) std::abort();  // Built-in names are unique: a clash is a bug here.
  };
  must(registry.Register("read_file", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
    absl::StatusOr<std::string> tensor = args.GetString("tensor", "encoded");
    absl::StatusOr<int64_t> max_bytes = args.GetInt("max_bytes", int64_t{256} << 20);
    if (!tensor.ok()) return tensor.status();
    if (!max_bytes.ok()) return max_bytes.status();
    if (args.data_root().empty()) {
      return ArgError("read_file",
                      "needs a pipeline whose source is files (image_folder or file_list)");
    }
    char resolved[PATH_MAX];
    if (realpath(args.data_root().c_str(), resolved) == nullptr) {
      return ArgError("read_file", absl::StrCat("cannot resolve the dataset root '",
                                                args.data_root(), "': ", std::strerror(errno)));
    }
    return std::make_unique<ReadFileOp>(resolved, *tensor, *max_bytes);
  }));
  must(registry.Register("decode_image", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
    absl::StatusOr<std::string> input = args.GetString("input", "encoded");
    absl::StatusOr<std::string> output = args.GetString("tensor", "image");
    absl::StatusOr<int64_t> max_pixels = ParseMaxPixels(args);
    absl::StatusOr<int64_t> min_size = args.GetInt("min_size", 0);
    for (const absl::Status& status :
         {input.status(), output.status(), max_pixels.status(), min_size.status()}) {
      if (!status.ok()) return status;
    }
    if (*min_size < 0 || *min_size > 65535) {
      return ArgError("decode_image",
                      absl::StrCat("min_size must be in [0, 65535], got ", *min_size));
    }
    return std::make_unique<DecodeImageOp>(
        *input, *output,
        DecodeOptions{.max_pixels = *max_pixels,
                      .min_width = static_cast<int>(*min_size),
                      .min_height = static_cast<int>(*min_size)});
  }));
  must(registry.Register("resize", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
    absl::StatusOr<std::string> tensor = args.GetString("tensor", "image");
    absl::StatusOr<std::string> size_text = args.GetString("size", "");
    absl::StatusOr<int64_t> shorter = args.GetInt("shorter_side", 0);
    absl::StatusOr<ResizeFilter> filter = ParseFilter(args);
    for (const absl::Status& status :
         {tensor.status(), size_text.status(), shorter.status(), filter.status()}) {
      if (!status.ok()) return status;
    }
    if (size_text->empty() == (*shorter == 0)) {
      return ArgError("resize",
                      "give exactly one of 'size' (N or HEIGHT,WIDTH) and "
                      "'shorter_side'");
    }
    if (*shorter < 0 || *shorter > 65535) {
      return ArgError("resize", absl::StrCat("shorter_side must be in [1, 65535], got ", *shorter));
    }
    std::pair<int, int> size{0, 0};
    if (!size_text->empty()) {
      absl::StatusOr<std::pair<int, int>> parsed = ParseSizeText("resize", "size", *size_text);
      if (!parsed.ok()) return parsed.status();
      size = *parsed;
    }
    return std::make_unique<ResizeOp>(*tensor, size.first, size.second, static_cast<int>(*shorter),
                                      *filter);
  }));
  must(registry.Register("center_crop", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
    absl::StatusOr<std::string> tensor = args.GetString("tensor", "image");
    absl::StatusOr<std::pair<int, int>> size = ParseSize(args, "size", std::nullopt);
    if (!tensor.ok()) return tensor.status();
    if (!size.ok()) return size.status();
    return std::make_unique<CenterCropOp>(*tensor, size->first, size->second);
  }));
  must(registry.Register(
      "random_resized_crop", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
        absl::StatusOr<std::string> tensor = args.GetString("tensor", "image");
        absl::StatusOr<std::pair<int, int>> size = ParseSize(args, "size", std::nullopt);
        absl::StatusOr<image::RandomResizedCropParams> params = ParseCropParams(args);
        absl::StatusOr<ResizeFilter> filter = ParseFilter(args);
        for (const absl::Status& status :
             {tensor.status(), size.status(), params.status(), filter.status()}) {
          if (!status.ok()) return status;
        }
        return std::make_unique<RandomResizedCropOp>(*tensor, size->first, size->second, *params,
                                                     *filter);
      }));
  must(registry.Register("random_horizontal_flip",
                         [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
                           absl::StatusOr<std::string> tensor = args.GetString("tensor", "image");
                           absl::StatusOr<double> p = ParseProbability(args, "p", 0.5);
                           if (!tensor.ok()) return tensor.status();
                           if (!p.ok()) return p.status();
                           return std::make_unique<RandomHorizontalFlipOp>(*tensor, *p);
                         }));
  must(registry.Register(
      "decode_random_resized_crop", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
        absl::StatusOr<std::string> input = args.GetString("input", "encoded");
        absl::StatusOr<std::string> output = args.GetString("tensor", "image");
        absl::StatusOr<std::pair<int, int>> size = ParseSize(args, "size", "224");
        absl::StatusOr<image::RandomResizedCropParams> params = ParseCropParams(args);
        absl::StatusOr<ResizeFilter> filter = ParseFilter(args);
        absl::StatusOr<double> flip = ParseProbability(args, "flip", 0.5);
        absl::StatusOr<int64_t> max_pixels = ParseMaxPixels(args);
        for (const absl::Status& status :
             {input.status(), output.status(), size.status(), params.status(), filter.status(),
              flip.status(), max_pixels.status()}) {
          if (!status.ok()) return status;
        }
        return std::make_unique<DecodeRandomResizedCropOp>(
            DecodeRandomResizedCropOp::Options{.input = *input,
                                               .output = *output,
                                               .height = size->first,
                                               .width = size->second,
                                               .crop = *params,
                                               .filter = *filter,
                                               .flip = *flip,
                                               .max_pixels = *max_pixels});
      }));
}

}  // namespace dataloader::server
