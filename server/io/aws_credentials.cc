// Copyright 2026 The dataloader Authors.

#include "server/io/aws_credentials.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace dataloader::server::io {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

absl::StatusOr<AwsCredentials> ReadCredentialsFile(const std::string& path, std::string profile) {
  if (profile.empty()) profile = Env("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read AWS credentials file '", path, "': ", std::strerror(errno)));
  }
  AwsCredentials credentials;
  credentials.source = absl::StrCat("credentials file '", path, "' profile '", profile, "'");
  bool found_profile = false;
  bool in_profile = false;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text.front() == '#' || text.front() == ';') continue;
    if (text.front() == '[') {
      if (text.back() != ']') {
        return absl::InvalidArgumentError(absl::StrCat("AWS credentials file '", path, "' line ",
                                                       number, ": unterminated section name"));
      }
      absl::string_view name = absl::StripAsciiWhitespace(text.substr(1, text.size() - 2));
      // Config files write "[profile name]"; credentials files "[name]". Accept both.
      absl::ConsumePrefix(&name, "profile ");
      in_profile = absl::StripAsciiWhitespace(name) == profile;
      found_profile = found_profile || in_profile;
      continue;
    }
    if (!in_profile) continue;
    const size_t equals = text.find('=');
    if (equals == absl::string_view::npos) {
      // The line may hold a secret: only its number goes into the message.
      return absl::InvalidArgumentError(absl::StrCat("AWS credentials file '", path, "' line ",
                                                     number, ": expected 'name = value'"));
    }
    const std::string key =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(text.substr(0, equals)));
    const std::string value(absl::StripAsciiWhitespace(text.substr(equals + 1)));
    if (key == "aws_access_key_id") {
      credentials.access_key_id = value;
    } else if (key == "aws_secret_access_key") {
      credentials.secret_access_key = value;
    } else if (key == "aws_session_token") {
      credentials.session_token = value;
    }
  }
  if (!found_profile) {
    return absl::InvalidArgumentError(
        absl::StrCat("AWS credentials file '", path, "' has no profile '", profile, "'"));
  }
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("AWS credentials file '", path, "' profile '", profile,
                     "' lacks aws_access_key_id or aws_secret_access_key"));
  }
  return credentials;
}

}  // namespace

absl::StatusOr<AwsCredentials> LoadAwsCredentials(const AwsCredentialsOptions& options) {
  if (!options.credentials_file.empty()) {
    return ReadCredentialsFile(options.credentials_file, options.profile);
  }
  const std::string key = Env("AWS_ACCESS_KEY_ID");
  const std::string secret = Env("AWS_SECRET_ACCESS_KEY");
  if (!key.empty() || !secret.empty()) {
    if (key.empty() || secret.empty()) {
      return absl::InvalidArgumentError(
          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (one is empty)");
    }
    return AwsCredentials{.access_key_id = key,
                          .secret_access_key = secret,
                          .session_token = Env("AWS_SESSION_TOKEN"),
                          .source = "environment (AWS_ACCESS_KEY_ID)"};
  }
  if (const std::string shared = Env("AWS_SHARED_CREDENTIALS_FILE"); !shared.empty()) {
    return ReadCredentialsFile(shared, options.profile);
  }
  return absl::NotFoundError(
      "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
      "AWS_SESSION_TOKEN for temporary keys), or credentials_file in the source's s3 options, "
      "or AWS_SHARED_CREDENTIALS_FILE; for a public bucket set anonymous: true");
}

}  // namespace dataloader::server::io
