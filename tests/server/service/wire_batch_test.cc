// Copyright 2026 The dataloader Authors.
//
// EncodeBatch's bytes parse as the v1::Batch protobuf itself would build.
#include "server/service/wire_batch.h"

#include <grpcpp/support/byte_buffer.h>

#include <optional>
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

CollatedBatch MakeBatch(BatchBufferPool& pool) {
  CollatedBatch batch{.sequence = 7, .epoch = 3, .sample_ids = {5, 1, 9}, .tensors = {}};
  batch.tensors.push_back({.name = "image",
                           .dtype = DType::kUint8,
                           .shape = {3, 200, 300},
                           .data = pool.Take(3 * 200 * 300)});
  for (size_t i = 0; i < batch.tensors[0].data.size(); ++i) {
    batch.tensors[0].data.data()[i] = static_cast<uint8_t>(i * 31 + 7);
  }
  batch.tensors.push_back({.name = "label",
                           .dtype = DType::kInt64,
                           .shape = {3},
                           .data = BatchBuffer::CopyOf(std::string(24, 'x'))});
  batch.tensors.push_back({.name = "empty", .dtype = DType::kFloat32, .shape = {3, 0}, .data = {}});
  return batch;
}

TEST(WireBatchTest, ParsesAsTheSameBatch) {
  BatchBufferPool pool;
  CollatedBatch batch = MakeBatch(pool);
  const std::string image(batch.tensors[0].data.view());
  const grpc::ByteBuffer encoded = EncodeBatch(std::move(batch), "token-bytes");

  v1::Batch parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(encoded)));
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

  // The same message protobuf itself builds from the batch: no field more, none less (the
  // shapes and the empty tensor's shape included).
  v1::Batch expected;
  expected.set_sequence(7);
  expected.set_epoch(3);
  for (uint64_t id : {5, 1, 9}) expected.add_sample_ids(id);
  expected.set_resume_token("token-bytes");
  auto add = [&](const std::string& name, v1::DType dtype, std::vector<int64_t> shape,
                 const std::string& data) {
    v1::Tensor* tensor = expected.add_tensors();
    tensor->set_name(name);
    tensor->set_dtype(dtype);
    for (int64_t d : shape) tensor->add_shape(d);
    tensor->set_data(data);
  };
  add("image", v1::DTYPE_UINT8, {3, 200, 300}, image);
  add("label", v1::DTYPE_INT64, {3}, std::string(24, 'x'));
  add("empty", v1::DTYPE_FLOAT32, {3, 0}, "");
  EXPECT_EQ(parsed.SerializeAsString(), expected.SerializeAsString());
}

// The image's buffer travels inside the message without a copy and goes back to its pool
// when gRPC releases the slice, for the next batch to reuse.
TEST(WireBatchTest, BatchBufferReturnsToItsPoolWhenTheMessageIsReleased) {
  BatchBufferPool pool;
  {
    CollatedBatch batch = MakeBatch(pool);
    const uint8_t* image = batch.tensors[0].data.data();
    std::optional<grpc::ByteBuffer> encoded(EncodeBatch(std::move(batch), "t"));
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(encoded->Dump(&slices).ok());
    bool shared = false;
    for (const grpc::Slice& slice : slices) shared |= slice.begin() == image;
    EXPECT_TRUE(shared);  // Not copied.
    slices.clear();
    EXPECT_EQ(pool.stats().free_buffers, 0);  // Still in the message.
    encoded.reset();
  }
  EXPECT_EQ(pool.stats().free_buffers, 1);
  CollatedBatch next = MakeBatch(pool);
  EXPECT_EQ(pool.stats().reused, 1);
  EXPECT_EQ(pool.stats().free_buffers, 0);
}

TEST(WireBatchTest, EmptyBatchHasOnlyHeaders) {
  CollatedBatch batch{.sequence = 0, .epoch = 0, .sample_ids = {}, .tensors = {}};
  const grpc::ByteBuffer encoded = EncodeBatch(std::move(batch), "t");
  v1::Batch parsed;
  ASSERT_TRUE(parsed.ParseFromString(Flatten(encoded)));
  EXPECT_EQ(parsed.resume_token(), "t");
  EXPECT_EQ(parsed.tensors_size(), 0);
}

}  // namespace
}  // namespace dataloader::server
