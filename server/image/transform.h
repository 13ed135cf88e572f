// Copyright 2026 The dataloader Authors.
//
// Geometric transforms of uint8 [height, width, channels] images: crop, resize (OpenCV's
// cv::resize; see the README's resize comparison for why), horizontal flip, and the crop
// planning of torchvision's RandomResizedCrop and CenterCrop.
#ifndef SERVER_IMAGE_TRANSFORM_H_
#define SERVER_IMAGE_TRANSFORM_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/pipeline/sample.h"
#include "server/pipeline/sample_random.h"

namespace dataloader::server::image {

enum class ResizeFilter {
  kBilinear,  // cv::INTER_LINEAR: 2x2 taps; fast; aliases when shrinking by more than 2x.
  kArea,      // cv::INTER_AREA: box average when shrinking (no aliasing); bilinear when growing.
};
// "bilinear" or "area"; InvalidArgument naming the text otherwise.
absl::StatusOr<ResizeFilter> ParseResizeFilter(absl::string_view name);

struct Rect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

// Checks that `image` is uint8 [H, W, C] (C in 1..4); InvalidArgument naming `op` otherwise.
absl::Status CheckImage(const Tensor& image, absl::string_view op);
inline int ImageHeight(const Tensor& image) { return static_cast<int>(image.shape[0]); }
inline int ImageWidth(const Tensor& image) { return static_cast<int>(image.shape[1]); }

// The region `crop` of `image` resized to out_width x out_height, in one pass (no copy of the
// crop first). `crop` must lie inside the image.
Tensor ResizeRegion(const Tensor& image, Rect crop, int out_width, int out_height,
                    ResizeFilter filter);
Tensor Resize(const Tensor& image, int out_width, int out_height, ResizeFilter filter);
// Copies the region out.
Tensor Crop(const Tensor& image, Rect crop);
void FlipHorizontal(Tensor& image);

// The centered out_width x out_height region (clamped to the image).
Rect CenterCropRect(int width, int height, int out_width, int out_height);
// The size with the shorter side equal to `shorter` and the aspect ratio kept (rounded).
void ShorterSideSize(int width, int height, int shorter, int& out_width, int& out_height);

// torchvision.transforms.RandomResizedCrop's region: up to 10 tries of an area fraction in
// [scale_min, scale_max] and a log-uniform aspect ratio in [ratio_min, ratio_max], falling
// back to the whole image's center cropped to the ratio bounds.
struct RandomResizedCropParams {
  double scale_min = 0.08;
  double scale_max = 1.0;
  double ratio_min = 3.0 / 4.0;
  double ratio_max = 4.0 / 3.0;
};
Rect RandomResizedCropRect(int width, int height, const RandomResizedCropParams& params,
                           SampleRandom& random);

}  // namespace dataloader::server::image

#endif  // SERVER_IMAGE_TRANSFORM_H_
