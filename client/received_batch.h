// Copyright 2026 The dataloader Authors.
//
// ReceivedBatch: a dataloader.v1.Batch as gRPC received it, parsed from the wire format
// without copying its payloads where it can.
//
//   ReceivedBatchStream: BasicBatchStream<ReceivedBatch> (client/batch_stream.h)
//   absl::StatusOr<std::optional<ReceivedBatch>> batch = stream->Next();
//   for (const ReceivedTensor& tensor : (*batch)->tensors()) {
//     Use(tensor.name, tensor.dtype, tensor.shape, tensor.data);  // data: borrowed bytes
//   }
//
// Why not v1::Batch: parsing into a protobuf message always copies every payload into a
// std::string, even when gRPC received it in one piece. A ReceivedBatch points into the
// received slices (reference-counted gRPC memory) and keeps those it points into: a tensor
// whose bytes lie in one slice, aligned for its element type, is not copied at all; one that spans
// slices is copied once, into a 64-byte-aligned buffer the batch owns (from its stream's
// BufferPool, so that the next batch reuses it). So each payload is copied at most once after gRPC
// hands it over. The Python extension exposes these bytes as numpy arrays that keep the batch
// alive.
//
// Every tensor is checked while parsing (a known dtype, dimensions >= 0, exactly
// product(shape) * element size bytes): a view built from ReceivedTensor::data never reads
// outside it.
#ifndef CLIENT_RECEIVED_BATCH_H_
#define CLIENT_RECEIVED_BATCH_H_

#include <grpcpp/impl/serialization_traits.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/config.h>
#include <grpcpp/support/slice.h>
#include <grpcpp/support/status.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/buffer_pool.h"
#include "dataloader/v1/data_loader.pb.h"

namespace dataloader::client {

// One tensor of a ReceivedBatch. `data` is borrowed from the batch: valid while the batch
// lives (moving the batch keeps it valid).
struct ReceivedTensor {
  std::string name = {};
  v1::DType dtype = v1::DTYPE_UNSPECIFIED;
  std::vector<int64_t> shape = {};
  // product(shape) * DTypeSize(dtype) bytes, C order, little-endian, aligned to the element
  // size (copied buffers to 64 bytes).
  absl::Span<const uint8_t> data = {};
};

// Thread-compatible. Movable (views stay valid), not copyable.
class ReceivedBatch {
 public:
  // An empty batch (what the gRPC deserializer fills in).
  ReceivedBatch() = default;
  ReceivedBatch(ReceivedBatch&&) = default;
  ReceivedBatch& operator=(ReceivedBatch&&) = default;
  ReceivedBatch(const ReceivedBatch&) = delete;
  ReceivedBatch& operator=(const ReceivedBatch&) = delete;

  // Parses a serialized v1::Batch held in `slices`, in order. InvalidArgument naming what is
  // malformed (truncated field, bad varint, wire type, tensor whose data does not fit its
  // dtype and shape). Unknown fields are skipped, as protobuf does. Copies go to buffers
  // from `pool` (null: buffers of their own).
  static absl::StatusOr<ReceivedBatch> Parse(std::vector<grpc::Slice> slices,
                                             const std::shared_ptr<BufferPool>& pool = nullptr);

  uint64_t sequence() const { return sequence_; }
  uint64_t epoch() const { return epoch_; }
  const std::string& resume_token() const { return resume_token_; }
  const std::vector<int64_t>& sample_ids() const { return sample_ids_; }
  const std::vector<ReceivedTensor>& tensors() const { return tensors_; }
  // Payload bytes copied out of the received slices (tensors that spanned slices or were
  // misaligned); the rest of the tensor bytes are views of gRPC's memory.
  size_t copied_bytes() const { return copied_bytes_; }
  // Bytes of the message as received.
  size_t wire_bytes() const { return wire_bytes_; }

  // OK, or why the message could not be parsed. Set by the gRPC deserializer, which never
  // fails the call itself (a failed deserialization would end the call with a status that
  // names nothing): BatchStream reports this status instead.
  const absl::Status& parse_status() const { return parse_status_; }
  void set_parse_status(absl::Status status) { parse_status_ = std::move(status); }

  // The pool the gRPC deserializer takes copy buffers from when it fills this (empty)
  // batch; set by the stream before each read.
  const std::shared_ptr<BufferPool>& buffer_pool() const { return buffer_pool_; }
  void set_buffer_pool(std::shared_ptr<BufferPool> pool) { buffer_pool_ = std::move(pool); }

 private:
  friend class ReceivedBatchParser;

  uint64_t sequence_ = 0;
  uint64_t epoch_ = 0;
  std::string resume_token_;
  std::vector<int64_t> sample_ids_;
  std::vector<ReceivedTensor> tensors_;
  size_t copied_bytes_ = 0;
  size_t wire_bytes_ = 0;
  absl::Status parse_status_;
  // What the tensors' data point into (the slices nothing points into are released after
  // parsing). Only the vectors' buffers are referenced (never an element's address), so
  // moving the batch keeps the views valid.
  std::vector<grpc::Slice> slices_;
  std::vector<BufferPool::Buffer> copies_;
  std::shared_ptr<BufferPool> buffer_pool_;
};

// The sequence and resume token BatchStream reads from each message (overloads for both of
// the stream's message types), whether the message is usable, and where its copies go.
inline uint64_t SequenceOf(const ReceivedBatch& batch) { return batch.sequence(); }
inline const std::string& ResumeTokenOf(const ReceivedBatch& batch) { return batch.resume_token(); }
inline absl::Status ParseStatusOf(const ReceivedBatch& batch) { return batch.parse_status(); }
inline void AttachBufferPool(ReceivedBatch& batch, const std::shared_ptr<BufferPool>& pool) {
  batch.set_buffer_pool(pool);
}
inline uint64_t SequenceOf(const v1::Batch& batch) { return batch.sequence(); }
inline const std::string& ResumeTokenOf(const v1::Batch& batch) { return batch.resume_token(); }
inline absl::Status ParseStatusOf(const v1::Batch&) { return absl::OkStatus(); }
inline void AttachBufferPool(v1::Batch&, const std::shared_ptr<BufferPool>&) {}

}  // namespace dataloader::client

namespace grpc {

// Lets gRPC's streaming readers deliver ReceivedBatch messages: the received ByteBuffer's
// slices are taken (referenced, not copied) and parsed. A parse error is recorded in the
// batch (see ReceivedBatch::parse_status), not returned.
template <>
class SerializationTraits<dataloader::client::ReceivedBatch> {
 public:
  static Status Deserialize(ByteBuffer* buffer, dataloader::client::ReceivedBatch* batch);
};

}  // namespace grpc

#endif  // CLIENT_RECEIVED_BATCH_H_
