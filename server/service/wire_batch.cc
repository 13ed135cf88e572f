// Copyright 2026 The dataloader Authors.

#include "server/service/wire_batch.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <utility>
#include <vector>

#include "dataloader/v1/data_loader.pb.h"

namespace dataloader::server {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

// Field numbers in data_loader.proto.
constexpr int kBatchTensorsField = 3;
constexpr int kTensorDataField = 4;

void AppendVarint(std::string& out, uint64_t value) {
  uint8_t buffer[10];
  uint8_t* end = CodedOutputStream::WriteVarint64ToArray(value, buffer);
  out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(end - buffer));
}

void AppendTag(std::string& out, int field) {
  AppendVarint(out, WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
}

// A slice that owns `data` (a heap-held std::string, deleted when gRPC releases the slice).
grpc::Slice OwningSlice(std::string&& data) {
  auto* owner = new std::string(std::move(data));
  return grpc::Slice(
      owner->data(), owner->size(),
      [](void* user_data) { delete static_cast<std::string*>(user_data); }, owner);
}

// A slice that owns a batch buffer: when gRPC releases the slice (the message is sent), the
// buffer goes back to its pool for the next batch.
grpc::Slice OwningSlice(BatchBuffer&& data) {
  auto* owner = new BatchBuffer(std::move(data));
  return grpc::Slice(
      owner->data(), owner->size(),
      [](void* user_data) { delete static_cast<BatchBuffer*>(user_data); }, owner);
}

}  // namespace

grpc::ByteBuffer EncodeBatch(CollatedBatch&& batch, const std::string& resume_token) {
  // Everything but the tensors goes through protobuf.
  v1::Batch meta;
  meta.set_sequence(static_cast<uint64_t>(batch.sequence));
  meta.set_epoch(batch.epoch);
  meta.mutable_sample_ids()->Add(batch.sample_ids.begin(), batch.sample_ids.end());
  meta.set_resume_token(resume_token);
  std::string header = meta.SerializeAsString();

  std::vector<grpc::Slice> slices;
  for (BatchTensor& tensor : batch.tensors) {
    v1::Tensor fields;  // The tensor without its data.
    fields.set_name(std::move(tensor.name));
    fields.set_dtype(static_cast<v1::DType>(tensor.dtype));
    fields.mutable_shape()->Add(tensor.shape.begin(), tensor.shape.end());
    const size_t data_size = tensor.data.size();
    const size_t tensor_size = fields.ByteSizeLong() + 1 /* data tag */ +
                               CodedOutputStream::VarintSize64(data_size) + data_size;
    AppendTag(header, kBatchTensorsField);
    AppendVarint(header, tensor_size);
    fields.AppendToString(&header);
    AppendTag(header, kTensorDataField);
    AppendVarint(header, data_size);
    slices.push_back(OwningSlice(std::move(header)));
    header.clear();
    if (data_size > 0) slices.push_back(OwningSlice(std::move(tensor.data)));
  }
  if (!header.empty()) slices.push_back(OwningSlice(std::move(header)));
  return grpc::ByteBuffer(slices.data(), slices.size());
}

}  // namespace dataloader::server
