// Copyright 2026 The dataloader Authors.
//
// VerifySigV4: checks an AWS Signature Version 4 Authorization header the way S3 does, by
// recomputing it from the request (OpenSSL's HMAC-SHA256). s3rver (the S3 server the tests run)
// does not recompute signatures, so tests that must know a request is correctly signed (paths
// with odd characters, listing queries with continuation tokens) serve it from TestHttpServer
// and verify it with this. Itself checked against AWS's published GetObject example.
#ifndef TESTS_SERVER_IO_SIGV4_VERIFIER_H_
#define TESTS_SERVER_IO_SIGV4_VERIFIER_H_

#include <string>

#include "absl/status/status.h"
#include "tests/server/io/test_http_server.h"

namespace dataloader::server::testing {

// OK if `request` carries a valid SigV4 signature made with `secret_access_key`;
// PermissionDenied saying what differs otherwise (the canonical request on a mismatch).
absl::Status VerifySigV4(const TestHttpServer::Request& request,
                         const std::string& secret_access_key);

}  // namespace dataloader::server::testing

#endif  // TESTS_SERVER_IO_SIGV4_VERIFIER_H_
