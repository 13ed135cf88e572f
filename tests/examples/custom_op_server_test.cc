// Copyright 2026 The dataloader Authors.
//
// examples/custom_op_server: a binary with an op of its own serves a config that uses it.
#include <cstdint>
#include <optional>
#include <vector>

#include "client/batch_stream.h"
#include "client/list_pipelines.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/synthetic_dataset.h"
#include "tests/client/subprocess.h"

namespace dataloader {
namespace {

TEST(CustomOpServerTest, ServesItsOwnOpThroughTheWholeService) {
  testing::ServerProcess server;
  auto pipelines = client::ListPipelines(server.target());
  ASSERT_TRUE(pipelines.ok()) << pipelines.status();
  ASSERT_EQ(pipelines->size(), 1u);
  EXPECT_EQ((*pipelines)[0].name(), "inverted");

  v1::StreamBatchesRequest request;
  request.set_pipeline("inverted");
  auto stream = client::BatchStream::Open({.target = server.target()}, request);
  ASSERT_TRUE(stream.ok()) << stream.status();
  const auto dataset = *server::SyntheticImageDataset::Create(
      {.num_samples = 64, .height = 16, .width = 16, .channels = 3, .num_classes = 4});
  int batches = 0;
  while (true) {
    absl::StatusOr<std::optional<v1::Batch>> batch = (*stream)->Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    if (!batch->has_value()) break;
    const std::string& pixels = (*batch)->tensors(0).data();
    // Unshuffled: sample ids 8b .. 8b+7, each the synthetic image inverted.
    for (int i = 0; i < (*batch)->sample_ids_size(); ++i) {
      const std::vector<uint8_t> original =
          dataset.Load((*batch)->sample_ids(i), 0)->tensors[0].data;
      for (size_t p = 0; p < original.size(); ++p) {
        ASSERT_EQ(static_cast<uint8_t>(pixels[i * original.size() + p]), 255 - original[p])
            << "sample " << (*batch)->sample_ids(i) << " byte " << p;
      }
    }
    ++batches;
  }
  EXPECT_EQ(batches, 8);
}

}  // namespace
}  // namespace dataloader
