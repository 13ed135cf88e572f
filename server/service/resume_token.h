// Copyright 2026 The dataloader Authors.
//
// Resume tokens: opaque to clients; inside, the identity of the stream that issued them and
// the next batch, checksummed so that garbage is refused rather than misread. The checks that
// decide whether a token may resume a request live here, beside the format.
//
//   StreamIdentity stream{.pipeline = "train", .content = definition.config_fingerprint, ...};
//   std::string token = ResumeToken(stream, /*next_sequence=*/8);   // in batch 7
//   absl::StatusOr<int64_t> first = ResumeSequence(stream, token);  // 8 for the same stream
#ifndef SERVER_SERVICE_RESUME_TOKEN_H_
#define SERVER_SERVICE_RESUME_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dataloader::server {

// What a stream's bytes depend on besides its position: a token is valid for exactly one.
struct StreamIdentity {
  std::string pipeline;
  uint64_t content = 0;  // PipelineDefinition::config_fingerprint.
  uint32_t shard_index = 0;
  uint32_t shard_count = 1;
  uint64_t epoch = 0;
  uint64_t seed = 0;
};

// The token that resumes `stream` at batch `next_sequence` (sent with the batch before it).
std::string ResumeToken(const StreamIdentity& stream, int64_t next_sequence);

// The batch a request for `stream` carrying `token` starts at. InvalidArgument if the token
// is not a token of this service, or was issued for another pipeline, shard, epoch or seed,
// or for other content (ops, batching or data changed: see ContentFingerprint).
absl::StatusOr<int64_t> ResumeSequence(const StreamIdentity& stream, absl::string_view token);

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_RESUME_TOKEN_H_
