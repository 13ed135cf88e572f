// Copyright 2026 The dataloader Authors.

#include "server/image/transform.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"

namespace dataloader::server::image {
namespace {

// The pipeline's pool already runs one image per thread; OpenCV's own worker threads would
// only compete with it (and be a second pool to size), so its parallelism is turned off once.
void DisableOpenCvThreads() {
  static const bool done = [] {
    cv::setNumThreads(0);
    return true;
  }();
  (void)done;
}

cv::Mat View(const Tensor& image) {
  const int channels = static_cast<int>(image.shape[2]);
  return cv::Mat(ImageHeight(image), ImageWidth(image), CV_8UC(channels),
                 const_cast<uint8_t*>(image.data.data()));
}

Tensor NewImage(const Tensor& like, int width, int height) {
  const int64_t channels = like.shape[2];
  Tensor out{
      .name = like.name, .dtype = DType::kUint8, .shape = {height, width, channels}, .data = {}};
  out.data.resize(static_cast<size_t>(width) * height * channels);
  return out;
}

}  // namespace

absl::StatusOr<ResizeFilter> ParseResizeFilter(absl::string_view name) {
  if (name == "bilinear") return ResizeFilter::kBilinear;
  if (name == "area") return ResizeFilter::kArea;
  return absl::InvalidArgumentError(
      absl::StrCat("filter must be 'bilinear' or 'area', got '", name, "'"));
}

absl::Status CheckImage(const Tensor& image, absl::string_view op) {
  if (image.dtype != DType::kUint8 || image.shape.size() != 3 || image.shape[2] < 1 ||
      image.shape[2] > 4 || image.shape[0] < 1 || image.shape[1] < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("op '", op, "': tensor '", image.name,
                     "' must be a uint8 image [height, width, 1..4 channels], got ",
                     DTypeName(image.dtype), " of rank ", image.shape.size()));
  }
  return absl::OkStatus();
}

Tensor ResizeRegion(const Tensor& image, Rect crop, int out_width, int out_height,
                    ResizeFilter filter) {
  DisableOpenCvThreads();
  Tensor out = NewImage(image, out_width, out_height);
  const cv::Mat region = View(image)(cv::Rect(crop.x, crop.y, crop.width, crop.height));
  cv::Mat dst(out_height, out_width, CV_8UC(static_cast<int>(image.shape[2])), out.data.data());
  if (crop.width == out_width && crop.height == out_height) {
    region.copyTo(dst);
  } else {
    cv::resize(region, dst, dst.size(), 0, 0,
               filter == ResizeFilter::kArea ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  return out;
}

Tensor Resize(const Tensor& image, int out_width, int out_height, ResizeFilter filter) {
  return ResizeRegion(image, {0, 0, ImageWidth(image), ImageHeight(image)}, out_width, out_height,
                      filter);
}

Tensor Crop(const Tensor& image, Rect crop) {
  Tensor out = NewImage(image, crop.width, crop.height);
  const size_t pixel = static_cast<size_t>(image.shape[2]);
  const size_t row = static_cast<size_t>(crop.width) * pixel;
  for (int y = 0; y < crop.height; ++y) {
    std::memcpy(
        &out.data[y * row],
        &image.data[((static_cast<size_t>(crop.y) + y) * ImageWidth(image) + crop.x) * pixel], row);
  }
  return out;
}

void FlipHorizontal(Tensor& image) {
  const int width = ImageWidth(image), height = ImageHeight(image);
  const size_t pixel = static_cast<size_t>(image.shape[2]);
  for (int y = 0; y < height; ++y) {
    uint8_t* row = &image.data[static_cast<size_t>(y) * width * pixel];
    for (int left = 0, right = width - 1; left < right; ++left, --right) {
      std::swap_ranges(row + left * pixel, row + (left + 1) * pixel, row + right * pixel);
    }
  }
}

Rect CenterCropRect(int width, int height, int out_width, int out_height) {
  out_width = std::min(out_width, width);
  out_height = std::min(out_height, height);
  // torchvision rounds the offset: int(round((size - crop) / 2)).
  return Rect{.x = static_cast<int>(std::lround((width - out_width) / 2.0)),
              .y = static_cast<int>(std::lround((height - out_height) / 2.0)),
              .width = out_width,
              .height = out_height};
}

void ShorterSideSize(int width, int height, int shorter, int& out_width, int& out_height) {
  // As torchvision.transforms.Resize(int): the long side is truncated, not rounded.
  if (width <= height) {
    out_width = shorter;
    out_height = std::max(1, static_cast<int>(static_cast<int64_t>(shorter) * height / width));
  } else {
    out_height = shorter;
    out_width = std::max(1, static_cast<int>(static_cast<int64_t>(shorter) * width / height));
  }
}

Rect RandomResizedCropRect(int width, int height, const RandomResizedCropParams& params,
                           SampleRandom& random) {
  const double area = static_cast<double>(width) * height;
  const double log_min = std::log(params.ratio_min), log_max = std::log(params.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * random.Uniform(params.scale_min, params.scale_max);
    const double ratio = std::exp(random.Uniform(log_min, log_max));
    const int w = static_cast<int>(std::lround(std::sqrt(target_area * ratio)));
    const int h = static_cast<int>(std::lround(std::sqrt(target_area / ratio)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int y = static_cast<int>(random.UniformInt(0, height - h));
      const int x = static_cast<int>(random.UniformInt(0, width - w));
      return Rect{.x = x, .y = y, .width = w, .height = h};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < params.ratio_min) {
    h = std::max(1, static_cast<int>(std::lround(w / params.ratio_min)));
  } else if (in_ratio > params.ratio_max) {
    w = std::max(1, static_cast<int>(std::lround(h * params.ratio_max)));
  }
  return Rect{.x = (width - w) / 2, .y = (height - h) / 2, .width = w, .height = h};
}

}  // namespace dataloader::server::image
