// Copyright 2026 The dataloader Authors.
//
// EncodeBatch's bytes parse as the v1::Batch protobuf itself would build.
#include "server/wire_batch.h"

#include <grpcpp/support/byte_buffer.h>

#include <string>
#include <vector>

#include "dataloader/v1/data_loader.pb.h"
#include "gtest/gtest.h"

namespace dataloader::server {
namespace {

std::string Flatten(const grpc::ByteBuffer& bytes) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(bytes.Dump(&slices).ok());
  std::string flat;
  for (const grpc::Slice& slice : slices) {
    flat.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return flat;
}

CollatedBatch MakeBatch() {
  CollatedBatch batch{.sequence = 7, .epoch = 3, .sample_ids = {5, 1, 9}, .tensors = {}};
  batch.tensors.push_back({.name = "image",
                           .dtype = DType::kUint8,
                           .shape = {3, 200, 300},
                           .data = std::string(3 * 200 * 300, '\0')});
  for (size_t i = 0; i < batch.tensors[0].data.size(); ++i) {
    batch.tensors[0].data[i] = static_cast<char>(i * 31 + 7);
  }
  batch.tensors.push_back(
      {.name = "label", .dtype = DType::kInt64, .shape = {3}, .data = std::string(24, 'x')});
  batch.tensors.push_back({.name = "empty", .dtype = DType::kFloat32, .shape = {3, 0}, .data = {}});
  return batch;
}

TEST(WireBatchTest, ParsesAsTheSameBatch) {
  CollatedBatch batch = MakeBatch();
  const std::string image = batch.tensors[0].data;
  EncodedBatch encoded = EncodeBatch(std::move(batch), "token-bytes");
  EXPECT_EQ(encoded.payload_bytes, image.size() + 24);

  v1::Batch parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(encoded.bytes)));
  EXPECT_EQ(parsed.sequence(), 7u);
  EXPECT_EQ(parsed.epoch(), 3u);
  EXPECT_EQ(std::vector<uint64_t>(parsed.sample_ids().begin(), parsed.sample_ids().end()),
            (std::vector<uint64_t>{5, 1, 9}));
  EXPECT_EQ(parsed.resume_token(), "token-bytes");
  ASSERT_EQ(parsed.tensors_size(), 3);
  EXPECT_EQ(parsed.tensors(0).name(), "image");
  EXPECT_EQ(parsed.tensors(0).dtype(), v1::DTYPE_UINT8);
  EXPECT_EQ(
      std::vector<int64_t>(parsed.tensors(0).shape().begin(), parsed.tensors(0).shape().end()),
      (std::vector<int64_t>{3, 200, 300}));
  EXPECT_EQ(parsed.tensors(0).data(), image);
  EXPECT_EQ(parsed.tensors(1).name(), "label");
  EXPECT_EQ(parsed.tensors(1).dtype(), v1::DTYPE_INT64);
  EXPECT_EQ(parsed.tensors(1).data(), std::string(24, 'x'));
  EXPECT_EQ(parsed.tensors(2).name(), "empty");
  EXPECT_TRUE(parsed.tensors(2).data().empty());

  // Same message as protobuf's own encoding of it.
  v1::Batch expected = parsed;
  std::string reencoded;
  ASSERT_TRUE(expected.SerializeToString(&reencoded));
  v1::Batch again;
  ASSERT_TRUE(again.ParseFromString(reencoded));
  EXPECT_EQ(again.SerializeAsString(), parsed.SerializeAsString());
}

TEST(WireBatchTest, EmptyBatchHasOnlyHeaders) {
  CollatedBatch batch{.sequence = 0, .epoch = 0, .sample_ids = {}, .tensors = {}};
  EncodedBatch encoded = EncodeBatch(std::move(batch), "t");
  v1::Batch parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(encoded.bytes)));
  EXPECT_EQ(parsed.resume_token(), "t");
  EXPECT_EQ(parsed.tensors_size(), 0);
  EXPECT_EQ(encoded.payload_bytes, 0u);
}

}  // namespace
}  // namespace dataloader::server
