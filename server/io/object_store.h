// Copyright 2026 The dataloader Authors.
//
// ObjectStore: reads objects named by URL, asynchronously: http:// and https:// directly,
// s3://BUCKET/KEY through the S3 API (S3Client, signed). It is what a remote dataset's samples
// carry, so that the read_url op can fetch any sample's bytes the way read_file reads a file.
//
//   absl::StatusOr<std::shared_ptr<ObjectStore>> store = ObjectStore::Create({.s3 = s3_options});
//   (*store)->Read("s3://bucket/train/cat/1.jpg", {.cancel = context.token()},
//                  [](absl::StatusOr<std::vector<uint8_t>> bytes) { ... });  // I/O thread
//
// Outcomes: the bytes; NotFound (no such object or bucket), PermissionDenied (refused),
// OutOfRange (a range past the end), InvalidArgument (a bad URL, an object over max_bytes,
// another 4xx); Unavailable when the store did not answer, or kept answering 429/5xx, through
// every attempt of the retry policy: the store is gone, not the object; Cancelled.
//
// Thread-safe.
#ifndef SERVER_IO_OBJECT_STORE_H_
#define SERVER_IO_OBJECT_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/cancellation.h"
#include "server/io/http_client.h"
#include "server/io/s3_client.h"

namespace dataloader::server::io {

struct ObjectStoreOptions {
  // Timeouts, retries, TLS (see HttpClientOptions).
  HttpClientOptions http{};
  // For s3:// URLs; without it they fail with InvalidArgument. Default: none.
  std::optional<S3Options> s3{};
};

struct ReadOptions {
  // Only these bytes of the object. Default: all of it.
  std::optional<ByteRange> range{};
  // Larger objects fail with InvalidArgument. Default 256 MiB.
  int64_t max_bytes = int64_t{256} << 20;
  // Aborts the read (Cancelled). Default: never.
  CancellationToken cancel{};
};

// "s3://bucket/key" -> {bucket, key}; InvalidArgument naming the URL otherwise.
absl::StatusOr<std::pair<std::string, std::string>> ParseS3Url(absl::string_view url);

class ObjectStore {
 public:
  using ReadCallback = absl::AnyInvocable<void(absl::StatusOr<std::vector<uint8_t>>)>;

  // InvalidArgument naming a bad option.
  static absl::StatusOr<std::shared_ptr<ObjectStore>> Create(ObjectStoreOptions options);

  // Reads the object `url` names; `done` runs once, on the I/O thread (or at once, on the
  // caller's thread, for a URL that cannot be read at all). Never blocks. Messages do not
  // repeat the URL (callers name the sample) and never hold credentials.
  void Read(const std::string& url, ReadOptions options, ReadCallback done) const;
  // Read() and wait: for start-up checks, never on the I/O thread.
  absl::StatusOr<std::vector<uint8_t>> ReadAndWait(const std::string& url,
                                                   ReadOptions options) const;

  HttpClient& http() const { return *http_; }
  // Null without S3 options.
  const S3Client* s3() const { return s3_.get(); }

 private:
  ObjectStore(std::shared_ptr<HttpClient> http, std::unique_ptr<S3Client> s3)
      : http_(std::move(http)), s3_(std::move(s3)) {}

  const std::shared_ptr<HttpClient> http_;
  const std::unique_ptr<S3Client> s3_;
};

}  // namespace dataloader::server::io

#endif  // SERVER_IO_OBJECT_STORE_H_
