// Copyright 2026 The dataloader Authors.
//
// Image pipelines end to end (without gRPC): an image folder made of the committed fixtures,
// good and bad, through read_file and the image ops to collated batches.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/file_dataset.h"
#include "server/pipeline/stream_pipeline.h"
#include "tests/server/ops/test_ops.h"

namespace dataloader::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kFixtures = fs::path(DL_TEST_DATA_DIR) / "images";

class ImagePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/image_pipeline_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    // Three classes of good images (every decodable kind, twice over) ...
    const std::vector<std::string> good = {
        "rgb_420.jpg", "rgb_444.jpg", "progressive.jpg", "gray.jpg",    "cmyk.jpg",
        "rgb.png",     "rgba.png",    "gray.png",        "palette.png", "gray16.png"};
    for (int copy = 0; copy < 2; ++copy) {
      for (size_t i = 0; i < good.size(); ++i) {
        const fs::path dir = root_ / ("class_" + std::to_string(i % 3));
        fs::create_directories(dir);
        fs::copy_file(kFixtures / good[i], dir / (std::to_string(copy) + "_" + good[i]));
      }
    }
    // ... and one class of every bad kind.
    fs::create_directories(root_ / "class_bad");
    for (const char* bad : {"truncated.jpg", "corrupt.jpg", "zero_bytes.jpg", "not_an_image.jpg",
                            "unsupported.gif", "truncated.png", "bomb.jpg", "bomb.png"}) {
      fs::copy_file(kFixtures / bad, root_ / "class_bad" / bad);
    }
  }
  void TearDown() override { fs::remove_all(root_); }

  PipelineDefinition Training(int concurrency, int64_t max_failures = kUnlimitedFailures) {
    auto dataset = FileDataset::FromImageFolder(root_, {"jpg", "png", "gif"});
    EXPECT_TRUE(dataset.ok()) << dataset.status();
    return PipelineDefinition{
        .name = "train",
        .dataset = *std::move(dataset),
        .stages = {{.op = "read_file", .concurrency = concurrency},
                   {.name = "decode",
                    .op = "decode_random_resized_crop",
                    .args = {{"size", "16,24"}},
                    .concurrency = concurrency,
                    .max_failures = max_failures},
                   {.op = "normalize",
                    .args = {{"mean", "0.485,0.456,0.406"},
                             {"std", "0.229,0.224,0.225"},
                             {"layout", "chw"}},
                    .concurrency = concurrency}},
        .batch_size = 5,
    };
  }

  std::vector<CollatedBatch> Stream(const PipelineDefinition& definition,
                                    const StreamRequest& request, absl::Status* end) {
    auto pipeline =
        BuildStreamPipeline(definition, request, *runtime_, dataloader::testing::BuiltinOps());
    EXPECT_TRUE(pipeline.ok()) << pipeline.status();
    std::vector<CollatedBatch> batches;
    if (!pipeline.ok()) return batches;
    while (true) {
      absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(absl::Seconds(30));
      if (!batch.ok()) {
        *end = batch.status();
        return batches;
      }
      batches.push_back(*std::move(batch));
    }
  }

  fs::path root_;
  std::unique_ptr<Runtime> runtime_ = *Runtime::Create({.num_threads = 2});
};

TEST_F(ImagePipelineTest, BadFilesFailTheirSampleAndTheStreamGoesOn) {
  PipelineDefinition definition = Training(2);
  const auto* files = static_cast<const FileDataset*>(definition.dataset.get());
  absl::Status end;
  std::vector<CollatedBatch> batches = Stream(definition, {.seed = 3}, &end);
  EXPECT_TRUE(absl::IsOutOfRange(end)) << end;
  ASSERT_EQ(batches.size(), 6u);  // 28 files in batches of 5.
  std::set<int64_t> delivered;
  for (const CollatedBatch& batch : batches) {
    delivered.insert(batch.sample_ids.begin(), batch.sample_ids.end());
    if (batch.sample_ids.empty()) continue;
    ASSERT_EQ(batch.tensors.size(), 2u);
    EXPECT_EQ(batch.tensors[0].name, "label");
    EXPECT_EQ(batch.tensors[1].name, "image");
    EXPECT_EQ(batch.tensors[1].dtype, DType::kFloat32);
    EXPECT_EQ(batch.tensors[1].shape,
              (std::vector<int64_t>{static_cast<int64_t>(batch.sample_ids.size()), 3, 16, 24}));
  }
  // Every good file arrives once; no bad one does.
  for (int64_t i = 0; i < files->size(); ++i) {
    const bool bad = files->path(i).rfind("class_bad/", 0) == 0;
    EXPECT_EQ(delivered.count(i), bad ? 0u : 1u) << files->path(i);
  }
  EXPECT_EQ(delivered.size(), 20u);
}

TEST_F(ImagePipelineTest, OverTheBudgetTheErrorNamesTheStageAndTheFile) {
  absl::Status end;
  Stream(Training(1, /*max_failures=*/2), {}, &end);
  EXPECT_TRUE(absl::IsAborted(end)) << end;
  EXPECT_THAT(end.message(), HasSubstr("stage 'decode' exceeded its failure budget: 3 items "
                                       "failed (max_failures 2)"));
  EXPECT_THAT(end.message(), HasSubstr("last error: INVALID_ARGUMENT: file 'class_bad/"));
}

TEST_F(ImagePipelineTest, SameRequestSameBytesAcrossRunsAndConcurrency) {
  absl::Status end;
  const StreamRequest request{.epoch = 2, .seed = 42};
  std::vector<CollatedBatch> one = Stream(Training(1), request, &end);
  std::vector<CollatedBatch> again = Stream(Training(1), request, &end);
  std::vector<CollatedBatch> four = Stream(Training(4), request, &end);
  ASSERT_EQ(one.size(), four.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].sample_ids, again[i].sample_ids);
    EXPECT_EQ(one[i].sample_ids, four[i].sample_ids);
    for (size_t t = 0; t < one[i].tensors.size(); ++t) {
      EXPECT_EQ(one[i].tensors[t].data, again[i].tensors[t].data) << "batch " << i;
      EXPECT_EQ(one[i].tensors[t].data, four[i].tensors[t].data) << "batch " << i;
    }
  }
  // Another epoch draws other crops.
  std::vector<CollatedBatch> other = Stream(Training(2), {.epoch = 3, .seed = 42}, &end);
  EXPECT_NE(one[0].tensors.back().data, other[0].tensors.back().data);
}

}  // namespace
}  // namespace dataloader::server
