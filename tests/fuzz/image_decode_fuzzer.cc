// Copyright 2026 The dataloader Authors.
//
// Fuzzes image decoding as the ops use it (server/image/codec.h): the header (ReadImageInfo),
// a full decode into a tensor reused across runs (DecodeImageInto, as the training op's
// per-thread buffer), and a DCT-scaled decode (decode_image's min_size, the training crop).
// Then, on the same thread, a good JPEG and a good PNG must decode to exactly their pixels:
// a failed decode must leave nothing behind (a truncated JPEG once broke every later decode
// on its thread).
//
// Input: a file's bytes (JPEG, PNG or anything else). The pixel limit is 4 megapixels rather
// than the default 89, so that a header that claims a large image costs milliseconds per run,
// not a second; the check is the same code.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "server/image/codec.h"

namespace {

using dataloader::server::Tensor;
using dataloader::server::image::DecodeImage;
using dataloader::server::image::DecodeImageInto;
using dataloader::server::image::DecodeOptions;
using dataloader::server::image::ReadImageInfo;

constexpr int64_t kMaxPixels = int64_t{4} << 20;

std::vector<uint8_t> ReadFixture(const char* name) {
  std::ifstream in(std::string(DL_TEST_DATA_DIR) + "/images/" + name, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "image_decode_fuzzer: missing fixture %s\n", name);
    std::abort();
  }
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

struct Known {
  std::vector<uint8_t> bytes;
  Tensor pixels;  // Its decode on a fresh thread state.
};

Known Decoded(const char* name) {
  Known known{.bytes = ReadFixture(name), .pixels = {}};
  absl::StatusOr<Tensor> pixels = DecodeImage(known.bytes, {});
  if (!pixels.ok()) std::abort();
  known.pixels = *std::move(pixels);
  return known;
}

void CheckStillDecodes(const Known& known, const uint8_t* data, size_t size) {
  absl::StatusOr<Tensor> again = DecodeImage(known.bytes, {});
  if (!again.ok() || again->shape != known.pixels.shape || again->data != known.pixels.data) {
    std::fprintf(stderr,
                 "a good image no longer decodes the same after an input of %zu bytes: %s\n", size,
                 again.ok() ? "different pixels" : again.status().ToString().c_str());
    (void)data;
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Known* const jpeg = new Known(Decoded("rgb_420.jpg"));
  static const Known* const png = new Known(Decoded("rgb.png"));
  static Tensor* const reused = new Tensor{.name = "image"};

  const absl::Span<const uint8_t> bytes(data, size);
  absl::StatusOr<dataloader::server::image::ImageInfo> info = ReadImageInfo(bytes);
  absl::Status full = DecodeImageInto(bytes, {.max_pixels = kMaxPixels}, *reused);
  if (full.ok()) {
    // What the decode claims to be must be what it holds.
    const size_t expected = static_cast<size_t>(reused->shape[0] * reused->shape[1] * 3);
    if (!info.ok() || reused->shape.size() != 3 || reused->shape[2] != 3 ||
        reused->data.size() != expected || reused->shape[0] != info->height ||
        reused->shape[1] != info->width) {
      std::fprintf(stderr, "decode disagrees with the header or its own shape\n");
      std::abort();
    }
  }
  if (info.ok()) {
    (void)DecodeImage(bytes, {.max_pixels = kMaxPixels,
                              .min_width = std::max(1, info->width / 5),
                              .min_height = std::max(1, info->height / 5)});
  }
  CheckStillDecodes(*jpeg, data, size);
  CheckStillDecodes(*png, data, size);
  return 0;
}
