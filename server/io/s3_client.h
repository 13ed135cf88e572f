// Copyright 2026 The dataloader Authors.
//
// S3Client: the S3 API over HttpClient: where a bucket and key live (path-style or
// virtual-host addressing, region, endpoint for S3-compatible stores), requests signed with AWS
// Signature Version 4 (libcurl's CURLOPT_AWS_SIGV4, plus the x-amz-date, x-amz-content-sha256
// and, for temporary keys, x-amz-security-token headers), GetObject requests and a paginated
// ListObjectsV2.
//
//   absl::StatusOr<std::unique_ptr<S3Client>> s3 = S3Client::Create(
//       {.endpoint = "http://127.0.0.1:4568", .region = "us-east-1", .path_style = true,
//        .credentials = *LoadAwsCredentials({})}, http);
//   http->Fetch((*s3)->GetObjectRequest("bucket", "train/cat/1.jpg", std::nullopt), done);
//   absl::StatusOr<std::vector<S3Object>> objects = (*s3)->ListObjects("bucket", "train/");
//
// libcurl 7.88 signs the path and query exactly as given, so this class encodes them the way
// SigV4 wants (AwsUriEncode, query parameters sorted by name).
//
// Thread-safe (immutable after Create).
#ifndef SERVER_IO_S3_CLIENT_H_
#define SERVER_IO_S3_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/io/aws_credentials.h"
#include "server/io/http_client.h"

namespace dataloader::server::io {

struct S3Options {
  // scheme://host[:port] of the store, without a path: an S3-compatible store's address, or
  // an AWS endpoint. Default: https://s3.<region>.amazonaws.com.
  std::string endpoint{};
  // Region the requests are signed for. Default "us-east-1".
  std::string region = "us-east-1";
  // Path-style addressing, ENDPOINT/BUCKET/KEY, as most S3-compatible stores want; false:
  // virtual-host addressing, BUCKET.ENDPOINT_HOST/KEY, as AWS wants (bucket names with dots
  // need path-style over https). Default false.
  bool path_style = false;
  // Unsigned requests, for public buckets; `credentials` is then ignored. Default false.
  bool anonymous = false;
  // The signing key (see aws_credentials.h). Required unless anonymous.
  AwsCredentials credentials{};
  // Time for x-amz-date. Default: libcurl dates each request with the system clock (which
  // must be right within 15 minutes for S3 to accept it). Tests fix it to reproduce AWS's
  // examples.
  std::function<absl::Time()> clock{};
};

struct S3Object {
  std::string key{};
  int64_t size = 0;
};

class S3Client {
 public:
  // InvalidArgument naming a bad endpoint or region, or missing credentials.
  static absl::StatusOr<std::unique_ptr<S3Client>> Create(S3Options options,
                                                          std::shared_ptr<HttpClient> http);

  // The signed GET of `key` in `bucket` (only `range`, if set), for HttpClient::Fetch().
  HttpRequest GetObjectRequest(absl::string_view bucket, absl::string_view key,
                               std::optional<ByteRange> range) const;
  // Every object whose key starts with `prefix`, through ListObjectsV2 pages of `page_size`
  // keys (1..1000; S3's maximum is the default), in the store's order. Blocks: for start-up, never
  // on the I/O thread. A failed page is an error naming the bucket: NotFound for a missing bucket,
  // PermissionDenied for refused credentials, Unavailable when the store cannot be reached (see
  // ResponseError).
  absl::StatusOr<std::vector<S3Object>> ListObjects(absl::string_view bucket,
                                                    absl::string_view prefix,
                                                    int page_size = 1000) const;

  // "s3://bucket/key", for messages.
  static std::string ObjectUrl(absl::string_view bucket, absl::string_view key);

  const S3Options& options() const { return options_; }
  HttpClient& http() const { return *http_; }

 private:
  S3Client(S3Options options, std::shared_ptr<HttpClient> http, std::string scheme,
           std::string host);
  // URL of `bucket` with `encoded_path` (AwsUriEncode'd key, may be empty) and `query`.
  std::string Url(absl::string_view bucket, absl::string_view encoded_path,
                  absl::string_view query) const;
  HttpRequest Signed(std::string url) const;

  const S3Options options_;
  const std::shared_ptr<HttpClient> http_;
  const std::string scheme_;  // "http" or "https"
  const std::string host_;    // host[:port]
};

// AWS SigV4's URI encoding: every byte except A-Z a-z 0-9 - _ . ~ becomes %XX (uppercase hex);
// '/' too unless `keep_slash` (object keys in paths keep their slashes).
std::string AwsUriEncode(absl::string_view text, bool keep_slash);

// The error a non-2xx answer means, for S3 and plain HTTP stores alike, with S3's error code
// and message when the body is an S3 <Error> document: 404 -> NotFound (NoSuchBucket says the
// bucket does not exist), 401/403 -> PermissionDenied (refused or wrong credentials), 416 ->
// OutOfRange, 408/429/5xx -> Unavailable (the attempts are used up), 3xx -> FailedPrecondition
// (wrong region or endpoint), others -> InvalidArgument. The message starts "HTTP <status>".
absl::Status ResponseError(const HttpResponse& response);

}  // namespace dataloader::server::io

#endif  // SERVER_IO_S3_CLIENT_H_
