// Copyright 2026 The dataloader Authors.

#include "server/service/resume_token.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace dataloader::server {
namespace {
constexpr uint32_t kVersion = 1;
}  // namespace

uint64_t Fingerprint(const std::string& bytes) {
  uint64_t hash = 0xCBF29CE484222325u;
  for (unsigned char c : bytes) hash = (hash ^ c) * 0x100000001B3u;
  return hash;
}

std::string EncodeResumeToken(const v1::internal::ResumePoint& point) {
  v1::internal::ResumePoint versioned = point;
  versioned.set_version(kVersion);
  v1::internal::ResumeToken token;
  // Deterministic serialization: the same point always gives the same token bytes.
  std::string serialized;
  {
    google::protobuf::io::StringOutputStream output(&serialized);
    google::protobuf::io::CodedOutputStream coded(&output);
    coded.SetSerializationDeterministic(true);
    versioned.SerializeToCodedStream(&coded);
  }
  token.set_checksum(Fingerprint(serialized));
  token.set_point(std::move(serialized));
  std::string bytes;
  token.SerializeToString(&bytes);
  return bytes;
}

absl::StatusOr<v1::internal::ResumePoint> DecodeResumeToken(const std::string& token_bytes) {
  const absl::Status garbage =
      absl::InvalidArgumentError("resume_token is not a resume token of this service");
  v1::internal::ResumeToken token;
  if (!token.ParseFromString(token_bytes) || token.checksum() != Fingerprint(token.point())) {
    return garbage;
  }
  v1::internal::ResumePoint point;
  if (!point.ParseFromString(token.point()) || point.version() != kVersion) return garbage;
  return point;
}

}  // namespace dataloader::server
