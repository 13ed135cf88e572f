// Copyright 2026 The dataloader Authors.
//
// Image decoding with well-kept libraries: JPEG through libjpeg-turbo (TurboJPEG API), PNG
// through libspng. Output is always 8-bit RGB, [height, width, 3], whatever the source
// (grayscale, CMYK/YCCK, palette, 16-bit, alpha dropped), so batches stack.
//
// The pixel limit is checked from the header, before any pixel buffer is allocated, so a
// small file that claims a huge image (a decompression bomb) costs nothing. JPEGs can be
// decoded downscaled by libjpeg-turbo's DCT scaling (1/8 steps): decoding at 1/2 scale costs
// about a third of a full decode, and is what an op should ask for when its target size is
// much smaller than the source.
#ifndef SERVER_IMAGE_CODEC_H_
#define SERVER_IMAGE_CODEC_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/pipeline/sample.h"

namespace dataloader::server::image {

enum class ImageFormat { kJpeg, kPng };

struct ImageInfo {
  ImageFormat format = ImageFormat::kJpeg;
  int width = 0;
  int height = 0;
};

// PIL's default limit: about 89 megapixels (a 1/4 GiB RGBA image).
inline constexpr int64_t kDefaultMaxPixels = 89'478'485;

// A JPEG DCT scaling factor, num/denom <= 1.
struct JpegScale {
  int num = 1;
  int denom = 1;
};

struct DecodeOptions {
  int64_t max_pixels = kDefaultMaxPixels;  // width * height above this: InvalidArgument.
  // JPEG only: decode at the smallest DCT scale whose output is still at least this size
  // (0: full size). PNGs are always decoded at full size.
  int min_width = 0;
  int min_height = 0;
};

// Format and size from the header alone. InvalidArgument for empty input, data that is
// neither JPEG nor PNG (naming what the first bytes look like), or a malformed header.
absl::StatusOr<ImageInfo> ReadImageInfo(absl::Span<const uint8_t> bytes);

// The smallest libjpeg-turbo scale whose output of a width x height image is at least
// min_width x min_height; 1/1 if none is smaller.
JpegScale ChooseJpegScale(int width, int height, int min_width, int min_height);
// The output size of one dimension at `scale` (as libjpeg-turbo rounds: up).
int ScaledDimension(int dimension, JpegScale scale);

// Decodes to uint8 [height, width, 3], named `tensor_name`. InvalidArgument for unsupported
// or corrupt data (including truncated files: libjpeg's warnings are errors here) and for
// images over the pixel limit.
absl::StatusOr<Tensor> DecodeImage(absl::Span<const uint8_t> bytes, const DecodeOptions& options,
                                   const std::string& tensor_name = "image");
// As DecodeImage, into `image` (its dtype, shape and data are replaced; its name kept). The
// data's capacity is reused: an op that decodes an intermediate image per sample into one
// buffer per thread skips the allocation, page faults and zero-fill of a new one each time.
absl::Status DecodeImageInto(absl::Span<const uint8_t> bytes, const DecodeOptions& options,
                             Tensor& image);

}  // namespace dataloader::server::image

#endif  // SERVER_IMAGE_CODEC_H_
