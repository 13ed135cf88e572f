// Copyright 2026 The dataloader Authors.
//
// ReceivedBatch's wire-format parser against protobuf's own serializer and parser: the same
// fields from any split of the bytes into slices, views where the bytes are contiguous, one
// copy where they are not, and an error (never a crash or a wrong view) for what protobuf
// refuses. Then ReceivedBatchStream against a real dataloader_server: the same bytes as
// BatchStream.
#include "client/received_batch.h"

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/batch_stream.h"
#include "client/tensor_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/subprocess.h"

namespace dataloader::client {
namespace {

using ::testing::HasSubstr;

v1::Batch MakeBatch(std::mt19937& rng, int tensors) {
  v1::Batch batch;
  batch.set_sequence(rng() % 1000);
  batch.set_epoch((uint64_t{1} << 63) + rng() % 7);  // A 10-byte varint.
  const int rows = 1 + static_cast<int>(rng() % 5);
  for (int i = 0; i < rows; ++i) {
    batch.add_sample_ids(i == 0 ? -3 : static_cast<int64_t>(rng() % 100000));
  }
  batch.set_resume_token(std::string(20 + rng() % 60, static_cast<char>('a' + rng() % 26)));
  const v1::DType dtypes[] = {v1::DTYPE_UINT8, v1::DTYPE_FLOAT32, v1::DTYPE_INT64,
                              v1::DTYPE_FLOAT16, v1::DTYPE_BOOL};
  for (int t = 0; t < tensors; ++t) {
    v1::Tensor* tensor = batch.add_tensors();
    tensor->set_name(absl::StrCat("tensor", t));
    tensor->set_dtype(dtypes[rng() % 5]);
    tensor->add_shape(rows);
    const int64_t inner = static_cast<int64_t>(rng() % 300);
    tensor->add_shape(inner);
    std::string data(static_cast<size_t>(rows * inner * DTypeSize(tensor->dtype())), '\0');
    for (char& c : data) c = static_cast<char>(rng());
    tensor->set_data(data);
  }
  return batch;
}

// `bytes` cut at the given offsets (ascending) into slices.
std::vector<grpc::Slice> Cut(const std::string& bytes, const std::vector<size_t>& cuts) {
  std::vector<grpc::Slice> slices;
  size_t start = 0;
  for (size_t cut : cuts) {
    slices.emplace_back(bytes.substr(start, cut - start));
    start = cut;
  }
  slices.emplace_back(bytes.substr(start));
  return slices;
}

std::vector<size_t> RandomCuts(std::mt19937& rng, size_t size, int count) {
  std::vector<size_t> cuts;
  for (int i = 0; i < count && size > 0; ++i) cuts.push_back(rng() % (size + 1));
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

void ExpectSame(const ReceivedBatch& got, const v1::Batch& want) {
  EXPECT_EQ(got.sequence(), want.sequence());
  EXPECT_EQ(got.epoch(), want.epoch());
  EXPECT_EQ(got.resume_token(), want.resume_token());
  EXPECT_EQ(got.sample_ids(),
            std::vector<int64_t>(want.sample_ids().begin(), want.sample_ids().end()));
  ASSERT_EQ(got.tensors().size(), static_cast<size_t>(want.tensors_size()));
  for (size_t i = 0; i < got.tensors().size(); ++i) {
    const ReceivedTensor& tensor = got.tensors()[i];
    const v1::Tensor& expected = want.tensors(static_cast<int>(i));
    EXPECT_EQ(tensor.name, expected.name());
    EXPECT_EQ(tensor.dtype, expected.dtype());
    EXPECT_EQ(tensor.shape, std::vector<int64_t>(expected.shape().begin(), expected.shape().end()));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size()),
              expected.data());
    EXPECT_EQ(
        reinterpret_cast<uintptr_t>(tensor.data.data()) % std::max(1, DTypeSize(tensor.dtype)), 0u)
        << tensor.name;
  }
}

TEST(ReceivedBatchTest, AnySplitIntoSlicesParsesAsProtobufDoes) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    const v1::Batch batch = MakeBatch(rng, static_cast<int>(rng() % 4));
    const std::string bytes = batch.SerializeAsString();
    absl::StatusOr<ReceivedBatch> parsed =
        ReceivedBatch::Parse(Cut(bytes, RandomCuts(rng, bytes.size(), round % 12)));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ExpectSame(*parsed, batch);
    EXPECT_EQ(parsed->wire_bytes(), bytes.size());
  }
}

TEST(ReceivedBatchTest, ContiguousBytesAreViewedAndSplitOnesCopiedOnce) {
  v1::Batch batch;
  v1::Tensor* image = batch.add_tensors();
  image->set_name("image");
  image->set_dtype(v1::DTYPE_UINT8);
  image->add_shape(4);
  image->add_shape(1000);
  image->set_data(std::string(4000, 'x'));
  const std::string bytes = batch.SerializeAsString();

  // One slice: the payload is a view of the slice's memory, nothing copied.
  absl::StatusOr<ReceivedBatch> whole = ReceivedBatch::Parse(Cut(bytes, {}));
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->copied_bytes(), 0u);
  // Moving the batch keeps the view valid (it points into the slice's heap memory).
  const uint8_t* before = whole->tensors()[0].data.data();
  ReceivedBatch moved = *std::move(whole);
  EXPECT_EQ(moved.tensors()[0].data.data(), before);
  EXPECT_EQ(moved.tensors()[0].data[3999], 'x');

  // Cut inside the payload: one copy of it, 64-byte aligned.
  absl::StatusOr<ReceivedBatch> split = ReceivedBatch::Parse(Cut(bytes, {bytes.size() - 100}));
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->copied_bytes(), 4000u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(split->tensors()[0].data.data()) % 64, 0u);
  ExpectSame(*split, batch);
}

// The batch holds the received slices its views point into while it lives, gives back the
// others once parsed, and lets go of all when it dies: gRPC's memory is not leaked or held
// twice.
TEST(ReceivedBatchTest, ReleasesTheSlicesWithTheBatch) {
  v1::Batch batch;
  v1::Tensor* image = batch.add_tensors();
  image->set_name("image");
  image->set_dtype(v1::DTYPE_UINT8);
  image->add_shape(100);
  image->set_data(std::string(100, 'x'));
  const std::string bytes = batch.SerializeAsString();
  static int released = 0;
  released = 0;
  auto tracked = [&bytes](size_t begin, size_t end) {
    auto* copy = new std::string(bytes.substr(begin, end - begin));
    return grpc::Slice(
        copy->data(), copy->size(),
        [](void* owner) {
          ++released;
          delete static_cast<std::string*>(owner);
        },
        copy);
  };
  {
    std::vector<grpc::Slice> slices;
    slices.push_back(tracked(0, 10));
    slices.push_back(tracked(10, bytes.size()));
    absl::StatusOr<ReceivedBatch> parsed = ReceivedBatch::Parse(std::move(slices));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->copied_bytes(), 0u);  // The payload is a view of the second slice,
    EXPECT_EQ(released, 1);                 // which is kept; the headers' slice is not.
  }
  EXPECT_EQ(released, 2);
  {
    std::vector<grpc::Slice> slices;
    slices.push_back(tracked(0, bytes.size() - 1));  // Truncated: refused.
    EXPECT_FALSE(ReceivedBatch::Parse(std::move(slices)).ok());
  }
  EXPECT_EQ(released, 3);
}

TEST(ReceivedBatchTest, CopiesGoToPooledBuffersReusedByTheNextBatch) {
  v1::Batch batch;
  batch.set_sequence(1);
  v1::Tensor* image = batch.add_tensors();
  image->set_name("image");
  image->set_dtype(v1::DTYPE_UINT8);
  image->add_shape(4);
  image->add_shape(1000);
  image->set_data(std::string(4000, 'p'));
  batch.set_resume_token("token");
  const std::string bytes = batch.SerializeAsString();
  std::shared_ptr<BufferPool> pool = BufferPool::Create(2);
  const uint8_t* first = nullptr;
  {
    absl::StatusOr<ReceivedBatch> parsed =
        ReceivedBatch::Parse(Cut(bytes, {bytes.size() - 10}), pool);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->copied_bytes(), 4000u);
    first = parsed->tensors()[0].data.data();
    ExpectSame(*parsed, batch);
  }
  EXPECT_EQ(pool->free_buffers(), 1u);  // Given back when the batch died.
  absl::StatusOr<ReceivedBatch> next = ReceivedBatch::Parse(Cut(bytes, {bytes.size() - 20}), pool);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->tensors()[0].data.data(), first);
  ExpectSame(*next, batch);
}

TEST(ReceivedBatchTest, UnknownFieldsAndUnpackedRepeatedFieldsAreRead) {
  v1::Batch batch;
  batch.set_sequence(5);
  batch.add_sample_ids(11);
  batch.add_sample_ids(12);
  v1::Tensor* label = batch.add_tensors();
  label->set_name("label");
  label->set_dtype(v1::DTYPE_INT64);
  label->add_shape(2);
  label->set_data(std::string(16, '\1'));
  std::string bytes = batch.SerializeAsString();
  // Unknown fields of every wire type (a varint, fixed64, bytes, a group with a field in it,
  // fixed32), then sample_ids unpacked (field 4 as single varints).
  bytes += std::string("\x78\x96\x01", 3);                     // field 15 varint
  bytes += std::string("\x81\x01", 2) + std::string(8, '\7');  // field 16 fixed64
  bytes += std::string("\x8a\x01\x03xyz", 6);                  // field 17 bytes
  bytes += std::string("\x93\x01\x08\x01\x94\x01", 6);         // group 18 { field 1: 1 }
  bytes += std::string("\x9d\x01", 2) + std::string(4, '\3');  // field 19 fixed32
  bytes += std::string("\x20\x0d", 2);                         // sample_ids += 13
  v1::Batch reference;
  ASSERT_TRUE(reference.ParseFromString(bytes));
  ASSERT_EQ(reference.sample_ids_size(), 3);
  absl::StatusOr<ReceivedBatch> parsed = ReceivedBatch::Parse(Cut(bytes, {7, 8, 9}));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ExpectSame(*parsed, reference);
}

TEST(ReceivedBatchTest, WhatProtobufRefusesIsRefusedNeverMisread) {
  std::mt19937 rng(11);
  const v1::Batch batch = MakeBatch(rng, 2);
  const std::string bytes = batch.SerializeAsString();
  int refused = 0;
  auto check = [&](const std::string& candidate, const std::vector<size_t>& cuts) {
    v1::Batch reference;
    const bool protobuf_ok = reference.ParseFromString(candidate);
    bool tensors_ok = protobuf_ok;
    for (const v1::Tensor& tensor : reference.tensors()) tensors_ok &= CheckTensor(tensor).ok();
    absl::StatusOr<ReceivedBatch> parsed = ReceivedBatch::Parse(Cut(candidate, cuts));
    if (!protobuf_ok) {
      EXPECT_FALSE(parsed.ok()) << "protobuf refuses what was parsed";
    } else if (tensors_ok) {
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      ExpectSame(*parsed, reference);
    } else {
      // Well-formed protobuf whose tensor does not fit its shape: refused, naming it.
      ASSERT_FALSE(parsed.ok());
      EXPECT_THAT(parsed.status().message(), HasSubstr("tensor"));
    }
    if (!parsed.ok()) {
      ++refused;
      EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    }
  };
  // Every truncation.
  for (size_t size = 0; size < bytes.size(); ++size) {
    check(bytes.substr(0, size), RandomCuts(rng, size, 3));
  }
  // Random byte corruptions.
  for (int round = 0; round < 3000; ++round) {
    std::string corrupt = bytes;
    for (int flips = 1 + round % 3; flips > 0; --flips) {
      corrupt[rng() % corrupt.size()] = static_cast<char>(rng());
    }
    check(corrupt, RandomCuts(rng, corrupt.size(), round % 5));
  }
  EXPECT_GT(refused, 100);
}

TEST(ReceivedBatchTest, TensorThatDoesNotFitItsShapeIsNamed) {
  v1::Batch batch;
  v1::Tensor* image = batch.add_tensors();
  image->set_name("image");
  image->set_dtype(v1::DTYPE_FLOAT32);
  image->add_shape(2);
  image->add_shape(3);
  image->set_data(std::string(20, '\0'));
  absl::StatusOr<ReceivedBatch> parsed = ReceivedBatch::Parse(Cut(batch.SerializeAsString(), {}));
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("tensor 'image'"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("expected 24"));

  image->set_data(std::string(24, '\0'));
  image->set_dtype(static_cast<v1::DType>(-2));  // Negative enum: a sign-extended varint.
  parsed = ReceivedBatch::Parse(Cut(batch.SerializeAsString(), {}));
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("DType(-2)"));
}

// The stream of ReceivedBatches from a real server: the same bytes as BatchStream's.
TEST(ReceivedBatchStreamTest, SameBatchesAsTheProtobufStream) {
  testing::ServerProcess server;
  v1::StreamBatchesRequest request;
  request.set_pipeline("synthetic");
  request.set_epoch(3);
  request.set_seed(9);
  request.set_max_batches(5);
  auto reference = BatchStream::Open({.target = server.target()}, request);
  auto received = ReceivedBatchStream::Open({.target = server.target()}, request);
  ASSERT_TRUE(reference.ok() && received.ok());
  int batches = 0;
  while (true) {
    auto want = (*reference)->Next();
    auto got = (*received)->Next();
    ASSERT_TRUE(want.ok() && got.ok()) << want.status() << got.status();
    ASSERT_EQ(want->has_value(), got->has_value());
    if (!got->has_value()) break;
    ExpectSame(**got, **want);
    std::printf("batch %d: %zu bytes received, %zu payload bytes copied\n", batches,
                (*got)->wire_bytes(), (*got)->copied_bytes());
    ++batches;
  }
  EXPECT_EQ(batches, 5);
  EXPECT_EQ((*received)->resume_token(), (*reference)->resume_token());
}

}  // namespace
}  // namespace dataloader::client
