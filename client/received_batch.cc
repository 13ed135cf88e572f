// Copyright 2026 The dataloader Authors.
#include "client/received_batch.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/tensor_view.h"
#include "google/protobuf/stubs/common.h"

namespace dataloader::client {

namespace {

// Field numbers and wire types of data_loader.proto's Batch and Tensor.
constexpr uint32_t kBatchSequence = 1;
constexpr uint32_t kBatchEpoch = 2;
constexpr uint32_t kBatchTensors = 3;
constexpr uint32_t kBatchSampleIds = 4;
constexpr uint32_t kBatchResumeToken = 5;
constexpr uint32_t kTensorName = 1;
constexpr uint32_t kTensorDtype = 2;
constexpr uint32_t kTensorShape = 3;
constexpr uint32_t kTensorData = 4;
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kStartGroup = 3;
constexpr uint32_t kEndGroup = 4;
constexpr uint32_t kFixed32 = 5;
// Protobuf's own limit on nested groups and messages.
constexpr int kMaxDepth = 100;

}  // namespace

// Reads the wire format across the message's slices. The small fields are read byte by
// byte; the payloads are taken as views when they lie in one slice.
class ReceivedBatchParser {
 public:
  ReceivedBatchParser(ReceivedBatch& batch, const std::shared_ptr<BufferPool>& pool)
      : batch_(batch), pool_(pool) {
    for (grpc::Slice& slice : batch.slices_) {
      if (slice.size() > 0) {
        chunks_.push_back(&slice);
        viewed_.push_back(false);
      }
      total_ += slice.size();
    }
    batch.wire_bytes_ = total_;
    limit_ = total_;
  }

  absl::Status ParseBatch() {
    while (position_ < total_) {
      uint32_t field = 0, wire_type = 0;
      if (absl::Status s = ReadTag(field, wire_type); !s.ok()) return s;
      absl::Status status;
      // A known field with another wire type is an unknown field to protobuf: skipped.
      if ((field == kBatchSequence || field == kBatchEpoch) && wire_type == kVarint) {
        status = ReadVarint(field == kBatchSequence ? "sequence" : "epoch",
                            field == kBatchSequence ? batch_.sequence_ : batch_.epoch_);
      } else if (field == kBatchTensors && wire_type == kLengthDelimited) {
        status = ReadTensor();
      } else if (field == kBatchSampleIds && IsInt64Wire(wire_type)) {
        status = ReadInt64s("sample_ids", wire_type, batch_.sample_ids_);
      } else if (field == kBatchResumeToken && wire_type == kLengthDelimited) {
        status = ReadString("resume_token", batch_.resume_token_);
      } else {
        status = SkipField(field, wire_type, 0);
      }
      if (!status.ok()) return status;
    }
    for (const ReceivedTensor& tensor : batch_.tensors_) {
      if (absl::Status s = CheckTensor(tensor.name, tensor.dtype, tensor.shape, tensor.data.size());
          !s.ok()) {
        return s;
      }
    }
    ReleaseUnviewedSlices();
    return absl::OkStatus();
  }

  // Gives gRPC back, now, the slices no tensor points into: their bytes were copied or are
  // headers. A batch then holds its payload once, not once copied plus once received, for as
  // long as the trainer keeps it.
  void ReleaseUnviewedSlices() {
    for (size_t i = 0; i < chunks_.size(); ++i) {
      if (!viewed_[i]) *chunks_[i] = grpc::Slice();
    }
    chunks_.clear();
  }

 private:
  absl::Status Truncated(const char* what) const {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed Batch message: ", what, " truncated at byte ", position_, " of ", total_));
  }

  bool ReadByte(uint8_t& byte) {
    if (position_ >= limit_) return false;
    while (offset_ >= chunks_[chunk_]->size()) {
      ++chunk_;
      offset_ = 0;
    }
    byte = chunks_[chunk_]->begin()[offset_++];
    ++position_;
    return true;
  }

  absl::Status ReadVarint(const char* what, uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      uint8_t byte = 0;
      if (!ReadByte(byte)) return Truncated(what);
      // The tenth byte may only contribute the top bit; protobuf ignores the rest as well.
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat("malformed Batch message: ", what,
                                                   " is a varint longer than 10 bytes at byte ",
                                                   position_));
  }

  absl::Status ReadTag(uint32_t& field, uint32_t& wire_type) {
    uint64_t tag = 0;
    if (absl::Status s = ReadVarint("field tag", tag); !s.ok()) return s;
    field = static_cast<uint32_t>(tag >> 3);
    wire_type = static_cast<uint32_t>(tag & 7);
    if (field == 0 || tag > 0xffffffffu) {
      return absl::InvalidArgumentError(absl::StrCat("malformed Batch message: invalid field tag ",
                                                     tag, " before byte ", position_));
    }
    return absl::OkStatus();
  }

  absl::Status ReadLength(const char* what, uint64_t end, uint64_t& length) {
    if (absl::Status s = ReadVarint(what, length); !s.ok()) return s;
    if (length > end - position_) return Truncated(what);
    return absl::OkStatus();
  }

  static bool IsInt64Wire(uint32_t wire_type) {
    return wire_type == kVarint || wire_type == kLengthDelimited;
  }

  void Skip(uint64_t n) {
    position_ += n;
    while (n > 0) {
      const size_t left = chunks_[chunk_]->size() - offset_;
      if (n < left) {
        offset_ += n;
        return;
      }
      n -= left;
      ++chunk_;
      offset_ = 0;
    }
  }

  // Calls `piece(pointer, size)` for each contiguous part of the next `n` bytes (known to be
  // there), in order, and advances past them. Returns the slice of the first piece.
  template <typename Piece>
  const grpc::Slice* ForEachPiece(uint64_t n, Piece piece) {
    const grpc::Slice* first = nullptr;
    position_ += n;
    while (n > 0) {
      while (offset_ >= chunks_[chunk_]->size()) {
        ++chunk_;
        offset_ = 0;
      }
      const grpc::Slice* slice = chunks_[chunk_];
      if (first == nullptr) first = slice;
      const size_t take = std::min<uint64_t>(n, slice->size() - offset_);
      piece(slice->begin() + offset_, take);
      offset_ += take;
      n -= take;
    }
    return first;
  }

  absl::Status ReadString(const char* what, std::string& out) {
    uint64_t length = 0;
    if (absl::Status s = ReadLength(what, limit_, length); !s.ok()) return s;
    out.clear();
    out.reserve(length);
    ForEachPiece(length, [&](const uint8_t* p, size_t n) {
      out.append(reinterpret_cast<const char*>(p), n);
    });
    return absl::OkStatus();
  }

  // A repeated int64, packed (one length-delimited run of varints) or not (one varint).
  absl::Status ReadInt64s(const char* what, uint32_t wire_type, std::vector<int64_t>& out) {
    uint64_t value = 0;
    if (wire_type == kVarint) {
      if (absl::Status s = ReadVarint(what, value); !s.ok()) return s;
      out.push_back(static_cast<int64_t>(value));
      return absl::OkStatus();
    }
    uint64_t length = 0;
    if (absl::Status s = ReadLength(what, limit_, length); !s.ok()) return s;
    const uint64_t end = position_ + length;
    const uint64_t outer_limit = limit_;
    limit_ = end;
    while (position_ < end) {
      if (absl::Status s = ReadVarint(what, value); !s.ok()) return s;
      out.push_back(static_cast<int64_t>(value));
    }
    limit_ = outer_limit;
    return absl::OkStatus();
  }

  // The next `length` bytes as a tensor's data: a view of the slice that holds them all if
  // it can be referenced and is aligned for `element_size`, else a copy.
  absl::Span<const uint8_t> TakeData(uint64_t length, size_t element_size) {
    if (length == 0) return {};
    while (offset_ >= chunks_[chunk_]->size()) {
      ++chunk_;
      offset_ = 0;
    }
    const grpc::Slice& slice = *chunks_[chunk_];
    const uint8_t* start = slice.begin() + offset_;
    // An inlined (small) slice keeps its bytes inside the grpc::Slice object itself, which
    // moves when the vector of slices does: never point into it. (Slice::c_slice() would
    // tell, but it takes a reference.)
    const auto* object = reinterpret_cast<const uint8_t*>(&slice);
    const bool referenced = start < object || start >= object + sizeof(grpc::Slice);
    if (referenced && length <= slice.size() - offset_ &&
        reinterpret_cast<uintptr_t>(start) % std::max<size_t>(element_size, 1) == 0) {
      viewed_[chunk_] = true;
      Skip(length);
      return absl::Span<const uint8_t>(start, length);
    }
    BufferPool::Buffer copy =
        pool_ != nullptr ? pool_->Acquire(length) : BufferPool::Allocate(length);
    uint8_t* out = copy.get();
    ForEachPiece(length, [&](const uint8_t* p, size_t n) {
      std::memcpy(out, p, n);
      out += n;
    });
    batch_.copied_bytes_ += length;
    batch_.copies_.push_back(std::move(copy));
    return absl::Span<const uint8_t>(batch_.copies_.back().get(), length);
  }

  absl::Status ReadTensor() {
    uint64_t length = 0;
    if (absl::Status s = ReadLength("tensors", limit_, length); !s.ok()) return s;
    const uint64_t end = position_ + length;
    const uint64_t outer_limit = limit_;
    limit_ = end;
    ReceivedTensor& tensor = batch_.tensors_.emplace_back();
    // Where the data field is: its bytes are taken once the dtype (for the alignment) is
    // known, which may come after it. The last occurrence wins, as in protobuf.
    std::optional<std::pair<uint64_t, uint64_t>> data_at;
    size_t data_chunk = 0, data_offset = 0;
    while (position_ < end) {
      uint32_t field = 0, type = 0;
      if (absl::Status s = ReadTag(field, type); !s.ok()) return s;
      absl::Status status;
      uint64_t value = 0;
      if (field == kTensorName && type == kLengthDelimited) {
        status = ReadString("tensor name", tensor.name);
        // A proto3 string: protobuf refuses the message if it is not UTF-8, and so do we
        // (the name becomes a Python str).
        if (status.ok() && !google::protobuf::internal::IsStructurallyValidUTF8(
                               tensor.name.data(), static_cast<int>(tensor.name.size()))) {
          status = absl::InvalidArgumentError(
              "malformed Batch message: a tensor name is not valid UTF-8");
        }
      } else if (field == kTensorDtype && type == kVarint) {
        status = ReadVarint("tensor dtype", value);
        // An enum is an int32 on the wire, sign-extended to 64 bits when negative.
        tensor.dtype = static_cast<v1::DType>(static_cast<int32_t>(value));
      } else if (field == kTensorShape && IsInt64Wire(type)) {
        status = ReadInt64s("tensor shape", type, tensor.shape);
      } else if (field == kTensorData && type == kLengthDelimited) {
        uint64_t size = 0;
        status = ReadLength("tensor data", end, size);
        if (status.ok()) {
          data_at = std::make_pair(position_, size);
          data_chunk = chunk_;
          data_offset = offset_;
          Skip(size);
        }
      } else {
        status = SkipField(field, type, 1);
      }
      if (!status.ok()) return status;
    }
    if (data_at.has_value()) {
      const uint64_t resume_position = position_;
      const size_t resume_chunk = chunk_, resume_offset = offset_;
      position_ = data_at->first;
      chunk_ = data_chunk;
      offset_ = data_offset;
      tensor.data = TakeData(data_at->second, static_cast<size_t>(DTypeSize(tensor.dtype)));
      position_ = resume_position;
      chunk_ = resume_chunk;
      offset_ = resume_offset;
    }
    limit_ = outer_limit;
    return absl::OkStatus();
  }

  absl::Status SkipField(uint32_t field, uint32_t wire_type, int depth) {
    uint64_t value = 0;
    switch (wire_type) {
      case kVarint:
        return ReadVarint("unknown field", value);
      case kFixed64:
      case kFixed32: {
        const uint64_t n = wire_type == kFixed64 ? 8 : 4;
        if (n > limit_ - position_) return Truncated("unknown field");
        Skip(n);
        return absl::OkStatus();
      }
      case kLengthDelimited:
        if (absl::Status s = ReadLength("unknown field", limit_, value); !s.ok()) return s;
        Skip(value);
        return absl::OkStatus();
      case kStartGroup: {
        if (depth >= kMaxDepth) {
          return absl::InvalidArgumentError("malformed Batch message: groups nested too deep");
        }
        while (true) {
          if (position_ >= limit_) return Truncated("group");
          uint32_t inner = 0, inner_type = 0;
          if (absl::Status s = ReadTag(inner, inner_type); !s.ok()) return s;
          if (inner_type == kEndGroup) {
            if (inner != field) {
              return absl::InvalidArgumentError(absl::StrCat("malformed Batch message: group ",
                                                             field, " ended by field ", inner));
            }
            return absl::OkStatus();
          }
          if (absl::Status s = SkipField(inner, inner_type, depth + 1); !s.ok()) return s;
        }
      }
      default:
        return absl::InvalidArgumentError(absl::StrCat("malformed Batch message: field ", field,
                                                       " has wire type ", wire_type,
                                                       " before byte ", position_));
    }
  }

  ReceivedBatch& batch_;
  const std::shared_ptr<BufferPool>& pool_;
  std::vector<grpc::Slice*> chunks_;  // The non-empty slices.
  std::vector<bool> viewed_;          // Per chunk: a tensor's data points into it.
  uint64_t total_ = 0;
  // The read position: absolute, and as (chunk, offset within it).
  uint64_t position_ = 0;
  size_t chunk_ = 0;
  size_t offset_ = 0;
  // The end of the message or packed field being read (the batch, or a part of it).
  uint64_t limit_ = 0;
};

absl::StatusOr<ReceivedBatch> ReceivedBatch::Parse(std::vector<grpc::Slice> slices,
                                                   const std::shared_ptr<BufferPool>& pool) {
  ReceivedBatch batch;
  batch.slices_ = std::move(slices);
  ReceivedBatchParser parser(batch, pool);
  if (absl::Status status = parser.ParseBatch(); !status.ok()) return status;
  return batch;
}

}  // namespace dataloader::client

namespace grpc {

Status SerializationTraits<dataloader::client::ReceivedBatch>::Deserialize(
    ByteBuffer* buffer, dataloader::client::ReceivedBatch* batch) {
  std::vector<Slice> slices;
  Status dumped = buffer->Dump(&slices);
  buffer->Clear();
  if (!dumped.ok()) {
    batch->set_parse_status(absl::InternalError(
        absl::StrCat("cannot read the received message: ", dumped.error_message())));
    return Status::OK;
  }
  absl::StatusOr<dataloader::client::ReceivedBatch> parsed =
      dataloader::client::ReceivedBatch::Parse(std::move(slices), batch->buffer_pool());
  if (parsed.ok()) {
    *batch = *std::move(parsed);
  } else {
    *batch = dataloader::client::ReceivedBatch();
    batch->set_parse_status(parsed.status());
  }
  return Status::OK;
}

}  // namespace grpc
