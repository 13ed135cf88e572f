// Copyright 2026 The dataloader Authors.
//
// Resume tokens: opaque to clients; inside, the stream's identity and the next batch,
// checksummed so that garbage is refused rather than misread.
#ifndef SERVER_SERVICE_RESUME_TOKEN_H_
#define SERVER_SERVICE_RESUME_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "dataloader/v1/resume_token.pb.h"

namespace dataloader::server {

std::string EncodeResumeToken(const v1::internal::ResumePoint& point);
// InvalidArgument ("resume_token is not a token of this service") for anything else.
absl::StatusOr<v1::internal::ResumePoint> DecodeResumeToken(const std::string& token);

// A stable 64-bit fingerprint of bytes (FNV-1a), for config fingerprints and checksums.
uint64_t Fingerprint(const std::string& bytes);

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_RESUME_TOKEN_H_
