// Copyright 2026 The dataloader Authors.

#include "server/service/resume_token.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <limits>

#include "absl/strings/str_cat.h"
#include "dataloader/v1/resume_token.pb.h"
#include "server/pipeline/fingerprint.h"
#include "server/service/client_text.h"

namespace dataloader::server {
namespace {

constexpr uint32_t kVersion = 1;

}  // namespace

std::string ResumeToken(const StreamIdentity& stream, int64_t next_sequence) {
  v1::internal::ResumePoint point;
  point.set_version(kVersion);
  point.set_pipeline(stream.pipeline);
  point.set_config_fingerprint(stream.content);
  point.set_shard_index(stream.shard_index);
  point.set_shard_count(stream.shard_count);
  point.set_epoch(stream.epoch);
  point.set_seed(stream.seed);
  point.set_next_sequence(static_cast<uint64_t>(next_sequence));
  // Deterministic serialization: the same point always gives the same token bytes.
  std::string serialized;
  {
    google::protobuf::io::StringOutputStream output(&serialized);
    google::protobuf::io::CodedOutputStream coded(&output);
    coded.SetSerializationDeterministic(true);
    point.SerializeToCodedStream(&coded);
  }
  v1::internal::ResumeToken token;
  token.set_checksum(FingerprintOf(serialized));
  token.set_point(std::move(serialized));
  return token.SerializeAsString();
}

absl::StatusOr<int64_t> ResumeSequence(const StreamIdentity& stream, absl::string_view token) {
  const absl::Status garbage =
      absl::InvalidArgumentError("resume_token is not a resume token of this service");
  v1::internal::ResumeToken parsed;
  if (!parsed.ParseFromArray(token.data(), static_cast<int>(token.size())) ||
      parsed.checksum() != FingerprintOf(parsed.point())) {
    return garbage;
  }
  v1::internal::ResumePoint point;
  if (!point.ParseFromString(parsed.point()) || point.version() != kVersion ||
      point.next_sequence() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return garbage;
  }
  if (point.pipeline() != stream.pipeline || point.shard_index() != stream.shard_index ||
      point.shard_count() != stream.shard_count || point.epoch() != stream.epoch ||
      point.seed() != stream.seed) {
    return absl::InvalidArgumentError(
        absl::StrCat("resume_token was issued for pipeline ", QuoteClientText(point.pipeline()),
                     " shard ", point.shard_index(), "/", point.shard_count(), " epoch ",
                     point.epoch(), " seed ", point.seed(), ", not for this request (pipeline '",
                     stream.pipeline, "' shard ", stream.shard_index, "/", stream.shard_count,
                     " epoch ", stream.epoch, " seed ", stream.seed, ")"));
  }
  if (point.config_fingerprint() != stream.content) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resume_token was issued for other content of pipeline '", stream.pipeline,
        "': its ops, batching or data differ on this server (another config or dataset)"));
  }
  return static_cast<int64_t>(point.next_sequence());
}

}  // namespace dataloader::server
