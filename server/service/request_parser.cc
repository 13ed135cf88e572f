// Copyright 2026 The dataloader Authors.

#include "server/service/request_parser.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/common.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace dataloader::server {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;

// Requests are small; anything this large is not one of ours.
constexpr size_t kMaxRequestBytes = 4 << 20;

std::string FieldName(const google::protobuf::Descriptor& type, int number) {
  const FieldDescriptor* field = type.FindFieldByNumber(number);
  return field != nullptr ? field->name() : absl::StrCat("field ", number);
}

bool WireTypeFits(const FieldDescriptor& field, WireFormatLite::WireType wire_type) {
  const auto expected = static_cast<WireFormatLite::WireType>(
      WireFormatLite::WireTypeForFieldType(static_cast<WireFormatLite::FieldType>(field.type())));
  // A repeated number may come packed (length-delimited) or one by one.
  return wire_type == expected ||
         (field.is_packable() && wire_type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
}

const char* WireTypeName(WireFormatLite::WireType wire_type) {
  switch (wire_type) {
    case WireFormatLite::WIRETYPE_VARINT:
      return "a varint";
    case WireFormatLite::WIRETYPE_FIXED64:
      return "8 fixed bytes";
    case WireFormatLite::WIRETYPE_LENGTH_DELIMITED:
      return "length-delimited bytes";
    case WireFormatLite::WIRETYPE_FIXED32:
      return "4 fixed bytes";
    default:
      return "a group";
  }
}

// Walks the top-level fields of `data` as a message of `type`.
absl::Status CheckFields(const std::string& data, const google::protobuf::Descriptor& type) {
  const std::string what = absl::StrCat("request is not a ", type.full_name(), ": ");
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(data.data()),
                                               static_cast<int>(data.size()));
  while (true) {
    const uint32_t tag = input.ReadTag();
    if (tag == 0) {
      // 0 is also what a malformed tag reads as; only at the end of the bytes is it the end.
      if (!input.ConsumedEntireMessage()) {
        return absl::InvalidArgumentError(absl::StrCat(what, "malformed bytes"));
      }
      break;
    }
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    const FieldDescriptor* field = type.FindFieldByNumber(number);
    const WireFormatLite::WireType wire_type = WireFormatLite::GetTagWireType(tag);
    // Protobuf keeps a known field sent with another wire type as an unknown field, so the
    // request would silently read as if the field were absent (epoch 0, no pipeline).
    if (field != nullptr && !WireTypeFits(*field, wire_type)) {
      return absl::InvalidArgumentError(absl::StrCat(what, "field '", field->name(),
                                                     "' is encoded as ", WireTypeName(wire_type),
                                                     ", not as a ", field->type_name()));
    }
    switch (wire_type) {
      case WireFormatLite::WIRETYPE_VARINT: {
        uint64_t value = 0;
        if (!input.ReadVarint64(&value)) {
          return absl::InvalidArgumentError(
              absl::StrCat(what, "field '", FieldName(type, number), "' is cut short"));
        }
        if (field != nullptr && field->type() == FieldDescriptor::TYPE_UINT32 &&
            value > std::numeric_limits<uint32_t>::max()) {
          return absl::InvalidArgumentError(
              absl::StrCat(field->name(), " must be < 2^32 (a uint32), got ", value));
        }
        break;
      }
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        uint32_t length = 0;
        std::string bytes;
        if (!input.ReadVarint32(&length) || !input.ReadString(&bytes, static_cast<int>(length))) {
          return absl::InvalidArgumentError(
              absl::StrCat(what, "field '", FieldName(type, number), "' is cut short"));
        }
        if (field != nullptr && field->type() == FieldDescriptor::TYPE_STRING &&
            !google::protobuf::internal::IsStructurallyValidUTF8(bytes.data(),
                                                                 static_cast<int>(bytes.size()))) {
          return absl::InvalidArgumentError(absl::StrCat(field->name(), " must be UTF-8 text, got ",
                                                         bytes.size(), " bytes that are not"));
        }
        break;
      }
      case WireFormatLite::WIRETYPE_FIXED64:
        if (!input.Skip(8)) {
          return absl::InvalidArgumentError(absl::StrCat(what, "malformed bytes"));
        }
        break;
      case WireFormatLite::WIRETYPE_FIXED32:
        if (!input.Skip(4)) {
          return absl::InvalidArgumentError(absl::StrCat(what, "malformed bytes"));
        }
        break;
      default:  // Groups are not used by this API.
        return absl::InvalidArgumentError(absl::StrCat(what, "malformed bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message& message) {
  const google::protobuf::Descriptor& type = *message.GetDescriptor();
  if (bytes.Length() > kMaxRequestBytes) {
    return absl::InvalidArgumentError(absl::StrCat("request is ", bytes.Length(), " bytes; a ",
                                                   type.full_name(), " is at most ",
                                                   kMaxRequestBytes));
  }
  std::vector<grpc::Slice> slices;
  if (!bytes.Dump(&slices).ok()) return absl::InternalError("cannot read the request's bytes");
  std::string data;
  data.reserve(bytes.Length());
  for (const grpc::Slice& slice : slices) {
    data.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (absl::Status fields = CheckFields(data, type); !fields.ok()) return fields;
  if (!message.ParseFromString(data)) {
    return absl::InvalidArgumentError(
        absl::StrCat("request is not a ", type.full_name(), ": malformed bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ValidStreamRequest> ValidateStreamRequest(const v1::StreamBatchesRequest& request,
                                                         const PipelineDefinition& definition) {
  const uint32_t shard_count = request.shard_count() == 0 ? 1 : request.shard_count();
  if (request.shard_index() >= shard_count) {
    return absl::InvalidArgumentError(absl::StrCat("shard_index must be < shard_count (",
                                                   shard_count, "), got ", request.shard_index()));
  }
  ValidStreamRequest valid;
  valid.identity = StreamIdentity{.pipeline = definition.name,
                                  .content = definition.config_fingerprint,
                                  .shard_index = request.shard_index(),
                                  .shard_count = shard_count,
                                  .epoch = request.epoch(),
                                  .seed = request.seed()};
  int64_t first_sequence = 0;
  if (!request.resume_token().empty()) {
    absl::StatusOr<int64_t> next = ResumeSequence(valid.identity, request.resume_token());
    if (!next.ok()) return next.status();
    first_sequence = *next;
  }
  // max_batches is a uint64 where 0 means "to the end"; a value past any epoch means the
  // same, and must not overflow the pipeline's int64 arithmetic.
  const int64_t max_batches = static_cast<int64_t>(
      std::min<uint64_t>(request.max_batches(), std::numeric_limits<int64_t>::max()));
  valid.request = StreamRequest{.shard_index = request.shard_index(),
                                .shard_count = shard_count,
                                .epoch = request.epoch(),
                                .seed = request.seed(),
                                .start_sequence = first_sequence,
                                .max_batches = max_batches};
  if (first_sequence > 0) {
    // A token of this stream points inside its epoch; one that does not was not issued by a
    // server with this config (the pipeline would refuse it too, without naming the field).
    absl::StatusOr<int64_t> batches = BatchesPerShard(definition, valid.request);
    if (!batches.ok()) return batches.status();
    if (first_sequence > *batches) {
      return absl::InvalidArgumentError(
          absl::StrCat("resume_token resumes at batch ", first_sequence,
                       ", past the end of this shard's epoch (", *batches, " batches)"));
    }
  }
  return valid;
}

}  // namespace dataloader::server
