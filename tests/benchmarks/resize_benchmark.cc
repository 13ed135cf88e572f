// Copyright 2026 The dataloader Authors.
//
// The resize options compared for the image ops: OpenCV's cv::resize (INTER_LINEAR,
// INTER_AREA) and libyuv's RGBScale (kFilterBilinear, kFilterBox), both from Debian.
//   Speed: the training pipeline's typical resize, a 333x250 crop of a 500x375 RGB image to
//          224x224, and the evaluation resize, 500x375 to 341x256.
//   Quality: before the timings, a table of the max and mean absolute difference (8-bit
//          levels) from Pillow's resize of the committed smooth test image
//          (tests/data/images/resize_*.ppm): BOX shrinks at factors 2 and 2.78, BILINEAR
//          growth, and Pillow's antialiased BILINEAR shrink.
// Run: build/tests/benchmarks/resize_benchmark
#include <libyuv/scale_rgb.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"

namespace {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

enum class Method { kOpenCvLinear, kOpenCvArea, kYuvBilinear, kYuvBox };
const char* const kNames[] = {"opencv INTER_LINEAR", "opencv INTER_AREA", "libyuv Bilinear",
                              "libyuv Box"};

// Resizes the region (x, y, w, h) of `src` to out_w x out_h.
void Resize(Method method, const Image& src, int x, int y, int w, int h, Image& out) {
  const uint8_t* origin = &src.rgb[(static_cast<size_t>(y) * src.width + x) * 3];
  const int stride = src.width * 3;
  if (method == Method::kOpenCvLinear || method == Method::kOpenCvArea) {
    cv::Mat region(h, w, CV_8UC3, const_cast<uint8_t*>(origin), stride);
    cv::Mat dst(out.height, out.width, CV_8UC3, out.rgb.data());
    cv::resize(region, dst, dst.size(), 0, 0,
               method == Method::kOpenCvArea ? cv::INTER_AREA : cv::INTER_LINEAR);
  } else {
    libyuv::RGBScale(origin, stride, w, h, out.rgb.data(), out.width * 3, out.width, out.height,
                     method == Method::kYuvBox ? libyuv::kFilterBox : libyuv::kFilterBilinear);
  }
}

Image ReadPpm(const std::string& name) {
  std::ifstream in(std::string(DL_TEST_DATA_DIR) + "/images/" + name, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::istringstream header(text);
  std::string magic;
  int maxval = 0;
  Image image;
  header >> magic >> image.width >> image.height >> maxval;
  const size_t start = static_cast<size_t>(header.tellg()) + 1;
  image.rgb.assign(text.begin() + static_cast<std::ptrdiff_t>(start), text.end());
  return image;
}

void PrintQualityTable() {
  const Image source = ReadPpm("resize_src.ppm");
  struct Case {
    const char* reference;
    const char* what;
  };
  const Case cases[] = {{"resize_box_down_32x24.ppm", "64x48->32x24 vs Pillow BOX"},
                        {"resize_box_down_23x17.ppm", "64x48->23x17 vs Pillow BOX"},
                        {"resize_bilinear_up_97x73.ppm", "64x48->97x73 vs Pillow BILINEAR"},
                        {"resize_bilinear_down_32x24.ppm", "64x48->32x24 vs Pillow BILINEAR(aa)"}};
  std::printf("Resize quality: max / mean abs difference from Pillow (8-bit levels)\n");
  std::printf("%-38s", "");
  for (const char* name : kNames) std::printf("%22s", name);
  std::printf("\n");
  for (const Case& c : cases) {
    const Image reference = ReadPpm(c.reference);
    std::printf("%-38s", c.what);
    for (int m = 0; m < 4; ++m) {
      Image out{reference.width, reference.height, std::vector<uint8_t>(reference.rgb.size())};
      Resize(static_cast<Method>(m), source, 0, 0, source.width, source.height, out);
      int worst = 0;
      double total = 0;
      for (size_t i = 0; i < out.rgb.size(); ++i) {
        const int d = std::abs(out.rgb[i] - reference.rgb[i]);
        worst = std::max(worst, d);
        total += d;
      }
      std::printf("%14d / %5.2f", worst, total / out.rgb.size());
    }
    std::printf("\n");
  }
  std::printf("\n");
}

Image Photo(int width, int height) {  // Smooth content with some texture.
  Image image{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &image.rgb[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(x * 255 / width);
      p[1] = static_cast<uint8_t>(y * 255 / height);
      p[2] = static_cast<uint8_t>((x * 7 + y * 13) ^ (x * y));
    }
  }
  return image;
}

void BM_Resize(benchmark::State& state) {
  const Method method = static_cast<Method>(state.range(0));
  const bool crop = state.range(1) == 0;
  const Image source = Photo(500, 375);
  Image out{crop ? 224 : 341, crop ? 224 : 256, {}};
  out.rgb.resize(static_cast<size_t>(out.width) * out.height * 3);
  for (auto _ : state) {
    if (crop) {
      Resize(method, source, 80, 60, 333, 250, out);
    } else {
      Resize(method, source, 0, 0, 500, 375, out);
    }
    benchmark::DoNotOptimize(out.rgb.data());
  }
  state.SetLabel(std::string(kNames[state.range(0)]) +
                 (crop ? ": 333x250 crop -> 224x224" : ": 500x375 -> 341x256"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Resize)->ArgsProduct({{0, 1, 2, 3}, {0, 1}})->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  cv::setNumThreads(0);  // One thread, as in the pipeline.
  PrintQualityTable();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
