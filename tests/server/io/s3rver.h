// Copyright 2026 The dataloader Authors.
//
// S3rver: a real S3 API server for tests, npm's s3rver run by Node.js on 127.0.0.1 with a
// fresh data directory, started and stopped by the test. Installed by install_s3rver.sh (the
// ctest fixture "s3rver") into DL_S3RVER_DIR.
//
//   absl::StatusOr<std::unique_ptr<S3rver>> s3 = S3rver::Start("bucket");
//   ASSERT_TRUE((*s3)->Put("bucket", "train/cat/1.jpg", bytes).ok());
//   io::S3Options options = (*s3)->Options();  // endpoint, path-style, its access key
//
// What s3rver checks (3.7): the access key id (only "S3RVER" exists: another one gets 403
// InvalidAccessKeyId), the presence and form of the SigV4 headers (a request without
// x-amz-content-sha256 gets 400); it does not recompute SigV4 signatures, so a wrong secret
// passes (tests that need signatures checked use sigv4_verifier.h). It serves ListObjectsV2
// (with max-keys and continuation tokens) and ranges.
//
// Thread-compatible.
#ifndef TESTS_SERVER_IO_S3RVER_H_
#define TESTS_SERVER_IO_S3RVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/io/s3_client.h"

namespace dataloader::server::testing {

class S3rver {
 public:
  // The access key s3rver accepts (id and secret).
  static constexpr const char* kAccessKey = "S3RVER";

  // Starts s3rver with the bucket `bucket`; Unavailable naming what is missing if it cannot.
  // `tls`: serve https with the test certificate tests/data/tls/server.pem (signed by
  // tests/data/tls/ca.pem, valid for 127.0.0.1).
  static absl::StatusOr<std::unique_ptr<S3rver>> Start(const std::string& bucket, bool tls = false);
  // Stops it (SIGTERM to its process, by id) and removes its data directory.
  ~S3rver();
  S3rver(const S3rver&) = delete;
  S3rver& operator=(const S3rver&) = delete;

  // "http://127.0.0.1:PORT" ("https://..." with tls).
  std::string endpoint() const;
  int port() const { return port_; }
  // S3 options for this server: endpoint, path-style, region us-east-1, its access key.
  io::S3Options Options() const;
  // Uploads an object (a blocking PUT).
  absl::Status Put(const std::string& bucket, const std::string& key, const std::string& bytes);
  // Stops the server now (the store "goes away"); the destructor then only cleans up.
  void Kill();

 private:
  S3rver() = default;

  pid_t pid_ = -1;
  int port_ = 0;
  bool tls_ = false;
  std::string directory_;
};

}  // namespace dataloader::server::testing

#endif  // TESTS_SERVER_IO_S3RVER_H_
