// Copyright 2026 The dataloader Authors.

#include "server/image/codec.h"

#include <spng.h>
#include <turbojpeg.h>

#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace dataloader::server::image {
namespace {

constexpr uint8_t kPngMagic[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

bool StartsWith(absl::Span<const uint8_t> bytes, const void* prefix, size_t size) {
  return bytes.size() >= size && std::memcmp(bytes.data(), prefix, size) == 0;
}

// What the first bytes of a file that is neither JPEG nor PNG look like.
std::string DescribeUnknown(absl::Span<const uint8_t> bytes) {
  if (StartsWith(bytes, "GIF8", 4)) return "unsupported image format GIF";
  if (StartsWith(bytes, "BM", 2)) return "unsupported image format BMP";
  if (StartsWith(bytes, "RIFF", 4) && bytes.size() >= 12 && std::memcmp(&bytes[8], "WEBP", 4) == 0)
    return "unsupported image format WebP";
  if (StartsWith(bytes, "II*\0", 4) || StartsWith(bytes, "MM\0*", 4))
    return "unsupported image format TIFF";
  const size_t shown = std::min<size_t>(bytes.size(), 8);
  return absl::StrCat(
      "not a JPEG or PNG image (starts with bytes ",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(bytes.data()), shown)),
      ")");
}

// One TurboJPEG decompressor per thread: creating one allocates libjpeg's state, and a
// handle must not be used by two threads at once. A failed call can leave the handle's
// libjpeg state half-way through a stream (libjpeg-turbo 2.1 does not reset it on every error
// path), and the next image on that thread then fails with errors about tables it never had
// ("Bogus Huffman table definition", "Bogus DQT index"): so a handle that reported an error is
// destroyed, and the thread's next decode gets a fresh one.
class ThreadDecompressor {
 public:
  ~ThreadDecompressor() { Discard(); }
  // Null only if libjpeg-turbo cannot allocate a handle.
  tjhandle Get() {
    if (handle_ == nullptr) handle_ = tjInitDecompress();
    return handle_;
  }
  void Discard() {
    if (handle_ != nullptr) tjDestroy(handle_);
    handle_ = nullptr;
  }

 private:
  tjhandle handle_ = nullptr;
};

ThreadDecompressor& Decompressor() {
  thread_local ThreadDecompressor decompressor;
  return decompressor;
}

absl::Status TooManyPixels(int width, int height, int64_t max_pixels) {
  return absl::InvalidArgumentError(
      absl::StrCat("image is ", width, "x", height, " = ", static_cast<int64_t>(width) * height,
                   " pixels, over the limit of ", max_pixels, " (max_pixels)"));
}

uint8_t MulDiv255(int a, int b) {  // round(a * b / 255), as Pillow computes it.
  const int t = a * b + 128;
  return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}

struct JpegHeader {
  int width = 0;
  int height = 0;
  int colorspace = 0;  // TJCS_*
};

absl::StatusOr<JpegHeader> ReadJpegHeader(absl::Span<const uint8_t> bytes) {
  tjhandle tj = Decompressor().Get();
  if (tj == nullptr) return absl::InternalError("libjpeg-turbo: cannot create a decompressor");
  JpegHeader header;
  int subsampling = 0;
  if (tjDecompressHeader3(tj, bytes.data(), bytes.size(), &header.width, &header.height,
                          &subsampling, &header.colorspace) != 0) {
    absl::Status error =
        absl::InvalidArgumentError(absl::StrCat("bad JPEG header: ", tjGetErrorStr2(tj)));
    Decompressor().Discard();
    return error;
  }
  return header;
}

absl::Status DecodeJpeg(absl::Span<const uint8_t> bytes, const DecodeOptions& options,
                        Tensor& image) {
  absl::StatusOr<JpegHeader> header = ReadJpegHeader(bytes);
  if (!header.ok()) return header.status();
  tjhandle tj = Decompressor().Get();
  const int width = header->width, height = header->height, colorspace = header->colorspace;
  if (static_cast<int64_t>(width) * height > options.max_pixels) {
    return TooManyPixels(width, height, options.max_pixels);
  }
  const JpegScale scale = ChooseJpegScale(width, height, options.min_width, options.min_height);
  const int out_width = ScaledDimension(width, scale);
  const int out_height = ScaledDimension(height, scale);
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;

  image.dtype = DType::kUint8;
  image.shape = {out_height, out_width, 3};
  // RGB decodes straight into the tensor (reusing its capacity); CMYK goes through a buffer.
  std::vector<uint8_t> cmyk_buffer;
  std::vector<uint8_t>& decoded = cmyk ? cmyk_buffer : image.data;
  decoded.resize(static_cast<size_t>(out_width) * out_height * (cmyk ? 4 : 3));
  // Warnings (a truncated or damaged stream libjpeg would pad with gray) are errors: a sample
  // must be the file's real pixels or fail. LIMITSCANS guards against progressive-scan bombs.
  const int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
  if (tjDecompress2(tj, bytes.data(), bytes.size(), decoded.data(), out_width, 0, out_height,
                    cmyk ? TJPF_CMYK : TJPF_RGB, flags) != 0) {
    absl::Status error =
        absl::InvalidArgumentError(absl::StrCat("cannot decode JPEG: ", tjGetErrorStr2(tj)));
    Decompressor().Discard();
    return error;
  }
  if (!cmyk) return absl::OkStatus();
  // CMYK JPEGs are Adobe's, which store inverted values; converted like Pillow does
  // (R = (255 - K) - C * (255 - K) / 255 on the un-inverted C and K).
  image.data.resize(static_cast<size_t>(out_width) * out_height * 3);
  const uint8_t* in = decoded.data();
  uint8_t* out = image.data.data();
  for (size_t i = 0, n = static_cast<size_t>(out_width) * out_height; i < n; ++i) {
    const int nk = in[4 * i + 3];  // 255 - K
    for (int c = 0; c < 3; ++c) {
      out[3 * i + c] = static_cast<uint8_t>(nk - MulDiv255(255 - in[4 * i + c], nk));
    }
  }
  return absl::OkStatus();
}

struct SpngDeleter {
  void operator()(spng_ctx* ctx) const { spng_ctx_free(ctx); }
};

absl::Status DecodePng(absl::Span<const uint8_t> bytes, const DecodeOptions& options,
                       Tensor& image) {
  std::unique_ptr<spng_ctx, SpngDeleter> ctx(spng_ctx_new(0));
  if (ctx == nullptr) return absl::InternalError("libspng: cannot create a decoder");
  auto failed = [](const char* what, int code) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", spng_strerror(code)));
  };
  // Bounds metadata chunks too (a PNG can carry huge text or ICC chunks).
  spng_set_chunk_limits(ctx.get(), 16 << 20, 64 << 20);
  if (int rc = spng_set_png_buffer(ctx.get(), bytes.data(), bytes.size()); rc != 0)
    return failed("cannot read PNG", rc);
  spng_ihdr header{};
  if (int rc = spng_get_ihdr(ctx.get(), &header); rc != 0) return failed("bad PNG header", rc);
  const int width = static_cast<int>(header.width), height = static_cast<int>(header.height);
  if (static_cast<int64_t>(header.width) * header.height > options.max_pixels) {
    return TooManyPixels(width, height, options.max_pixels);
  }
  size_t size = 0;
  if (int rc = spng_decoded_image_size(ctx.get(), SPNG_FMT_RGB8, &size); rc != 0)
    return failed("cannot decode PNG", rc);
  image.dtype = DType::kUint8;
  image.shape = {height, width, 3};
  image.data.resize(size);
  if (int rc = spng_decode_image(ctx.get(), image.data.data(), size, SPNG_FMT_RGB8, 0); rc != 0)
    return failed("cannot decode PNG", rc);
  return absl::OkStatus();
}

// The format from the magic bytes alone (the decoders then read the header once).
absl::StatusOr<ImageFormat> DetectFormat(absl::Span<const uint8_t> bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("empty file (0 bytes)");
  if (StartsWith(bytes, "\xff\xd8\xff", 3)) return ImageFormat::kJpeg;
  if (StartsWith(bytes, kPngMagic, sizeof kPngMagic)) return ImageFormat::kPng;
  return absl::InvalidArgumentError(DescribeUnknown(bytes));
}

}  // namespace

absl::StatusOr<ImageInfo> ReadImageInfo(absl::Span<const uint8_t> bytes) {
  absl::StatusOr<ImageFormat> format = DetectFormat(bytes);
  if (!format.ok()) return format.status();
  if (*format == ImageFormat::kJpeg) {
    absl::StatusOr<JpegHeader> header = ReadJpegHeader(bytes);
    if (!header.ok()) return header.status();
    return ImageInfo{
        .format = ImageFormat::kJpeg, .width = header->width, .height = header->height};
  }
  std::unique_ptr<spng_ctx, SpngDeleter> ctx(spng_ctx_new(0));
  if (ctx == nullptr) return absl::InternalError("libspng: cannot create a decoder");
  spng_set_png_buffer(ctx.get(), bytes.data(), bytes.size());
  spng_ihdr header{};
  if (int rc = spng_get_ihdr(ctx.get(), &header); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("bad PNG header: ", spng_strerror(rc)));
  }
  return ImageInfo{.format = ImageFormat::kPng,
                   .width = static_cast<int>(header.width),
                   .height = static_cast<int>(header.height)};
}

JpegScale ChooseJpegScale(int width, int height, int min_width, int min_height) {
  if (min_width <= 0 && min_height <= 0) return {};  // Full size asked for.
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  JpegScale best;
  double best_ratio = 1.0;
  for (int i = 0; i < count; ++i) {
    const JpegScale scale{.num = factors[i].num, .denom = factors[i].denom};
    const double ratio = static_cast<double>(scale.num) / scale.denom;
    if (ratio >= best_ratio) continue;  // Only downscaling helps.
    if (ScaledDimension(width, scale) >= min_width &&
        ScaledDimension(height, scale) >= min_height) {
      best = scale;
      best_ratio = ratio;
    }
  }
  return best;
}

int ScaledDimension(int dimension, JpegScale scale) {
  return static_cast<int>((static_cast<int64_t>(dimension) * scale.num + scale.denom - 1) /
                          scale.denom);
}

absl::Status DecodeImageInto(absl::Span<const uint8_t> bytes, const DecodeOptions& options,
                             Tensor& image) {
  absl::StatusOr<ImageFormat> format = DetectFormat(bytes);
  if (!format.ok()) return format.status();
  if (*format == ImageFormat::kJpeg) return DecodeJpeg(bytes, options, image);
  return DecodePng(bytes, options, image);
}

absl::StatusOr<Tensor> DecodeImage(absl::Span<const uint8_t> bytes, const DecodeOptions& options,
                                   const std::string& tensor_name) {
  Tensor image{.name = tensor_name, .dtype = DType::kUint8, .shape = {}, .data = {}};
  if (absl::Status decoded = DecodeImageInto(bytes, options, image); !decoded.ok()) return decoded;
  return image;
}

}  // namespace dataloader::server::image
