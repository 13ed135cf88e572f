// Copyright 2026 The dataloader Authors.

#include "tests/server/io/sigv4_verifier.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/io/s3_client.h"

namespace dataloader::server::testing {
namespace {

std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<char*>(out), length);
}

std::string Sha256Hex(const std::string& data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(out), sizeof out));
}

std::string PercentDecode(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += absl::HexStringToBytes(text.substr(i + 1, 2));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Name-sorted, name=value with both AWS-encoded: what S3 computes from the query as received.
std::string CanonicalQuery(absl::string_view query) {
  if (query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> params;
  for (absl::string_view param : absl::StrSplit(query, '&')) {
    const size_t equals = param.find('=');
    params.emplace_back(io::AwsUriEncode(PercentDecode(param.substr(0, equals)), false),
                        equals == absl::string_view::npos
                            ? ""
                            : io::AwsUriEncode(PercentDecode(param.substr(equals + 1)), false));
  }
  std::sort(params.begin(), params.end());
  std::vector<std::string> parts;
  for (const auto& [name, value] : params) parts.push_back(absl::StrCat(name, "=", value));
  return absl::StrJoin(parts, "&");
}

}  // namespace

absl::Status VerifySigV4(const TestHttpServer::Request& request,
                         const std::string& secret_access_key) {
  auto header = [&](const std::string& name) -> std::string {
    auto it = request.headers.find(name);
    return it == request.headers.end() ? std::string() : it->second;
  };
  const std::string authorization_header = header("authorization");
  absl::string_view authorization = authorization_header;
  if (!absl::ConsumePrefix(&authorization, "AWS4-HMAC-SHA256 ")) {
    return absl::PermissionDeniedError("no AWS4-HMAC-SHA256 Authorization header");
  }
  std::string credential, signed_headers, signature;
  for (absl::string_view part : absl::StrSplit(authorization, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, "Credential=")) credential = std::string(part);
    if (absl::ConsumePrefix(&part, "SignedHeaders=")) signed_headers = std::string(part);
    if (absl::ConsumePrefix(&part, "Signature=")) signature = std::string(part);
  }
  // Credential = KEY/DATE/REGION/SERVICE/aws4_request
  std::vector<std::string> scope = absl::StrSplit(credential, '/');
  if (scope.size() != 5 || scope[4] != "aws4_request") {
    return absl::PermissionDeniedError(absl::StrCat("bad Credential '", credential, "'"));
  }
  const std::string date_time = header("x-amz-date");
  const std::string payload_hash = header("x-amz-content-sha256");
  if (date_time.size() != 16 || payload_hash.empty()) {
    return absl::PermissionDeniedError("x-amz-date or x-amz-content-sha256 missing");
  }
  std::string canonical_headers;
  for (absl::string_view name : absl::StrSplit(signed_headers, ';')) {
    const std::string value = header(std::string(name));
    absl::StrAppend(&canonical_headers, name, ":", absl::StripAsciiWhitespace(value), "\n");
  }
  if (!absl::StrContains(signed_headers, "host") ||
      !absl::StrContains(signed_headers, "x-amz-content-sha256") ||
      !absl::StrContains(signed_headers, "x-amz-date")) {
    return absl::PermissionDeniedError(
        absl::StrCat("SignedHeaders '", signed_headers, "' must cover host and the x-amz- ones"));
  }
  const std::string canonical_request =
      absl::StrCat(request.method, "\n", request.path, "\n", CanonicalQuery(request.query), "\n",
                   canonical_headers, "\n", signed_headers, "\n", payload_hash);
  const std::string credential_scope =
      absl::StrCat(scope[1], "/", scope[2], "/", scope[3], "/aws4_request");
  const std::string string_to_sign = absl::StrCat(
      "AWS4-HMAC-SHA256\n", date_time, "\n", credential_scope, "\n", Sha256Hex(canonical_request));
  std::string key = Hmac(absl::StrCat("AWS4", secret_access_key), scope[1]);
  key = Hmac(key, scope[2]);
  key = Hmac(key, scope[3]);
  key = Hmac(key, "aws4_request");
  const std::string expected = absl::BytesToHexString(Hmac(key, string_to_sign));
  if (expected != signature) {
    return absl::PermissionDeniedError(
        absl::StrCat("SignatureDoesNotMatch; canonical request:\n", canonical_request));
  }
  return absl::OkStatus();
}

}  // namespace dataloader::server::testing
