// Copyright 2026 The dataloader Authors.
//
// AwsCredentials: the access key that signs S3 requests, read the standard ways.
//
//   absl::StatusOr<AwsCredentials> credentials =
//       LoadAwsCredentials({.credentials_file = "/run/secrets/aws", .profile = "loader"});
//
// Where from, first match wins:
//   1. `credentials_file` if set: an AWS shared credentials file (INI: "[profile]" sections
//      with aws_access_key_id, aws_secret_access_key, optional aws_session_token); the
//      profile is `profile`, else $AWS_PROFILE, else "default".
//   2. The environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (both), optional
//      AWS_SESSION_TOKEN.
//   3. $AWS_SHARED_CREDENTIALS_FILE if set, read as in 1.
// The secret and the session token never appear in a message or a log: errors name the file,
// line, profile or variable, never a value.
//
// Thread-compatible (reads the environment).
#ifndef SERVER_IO_AWS_CREDENTIALS_H_
#define SERVER_IO_AWS_CREDENTIALS_H_

#include <string>

#include "absl/status/statusor.h"

namespace dataloader::server::io {

struct AwsCredentials {
  std::string access_key_id{};
  std::string secret_access_key{};  // Secret: never log.
  std::string session_token{};      // Secret: never log. Empty for long-term keys.
  std::string source{};             // Where they came from, for messages ("environment", ...).
};

struct AwsCredentialsOptions {
  // An AWS shared credentials file to read instead of the environment. Default: none.
  std::string credentials_file{};
  // Its profile. Default: $AWS_PROFILE, else "default".
  std::string profile{};
};

// NotFound when no source has credentials (the message lists the ways to give them);
// InvalidArgument naming the file, line or profile when a file is malformed or incomplete.
absl::StatusOr<AwsCredentials> LoadAwsCredentials(const AwsCredentialsOptions& options);

}  // namespace dataloader::server::io

#endif  // SERVER_IO_AWS_CREDENTIALS_H_
