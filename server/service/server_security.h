// Copyright 2026 The dataloader Authors.
//
// Server transport security: TLS or mutual TLS from PEM files, bearer-token authentication
// from a token file, and the rule that plaintext is served on loopback only unless asked.
//
//   ServerSecurityOptions security{.tls_cert_file = "server.pem", .tls_key_file = "server.key",
//                                  .auth_token_file = "token"};
//   absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
//       CreateServerCredentials(security, "0.0.0.0:50051");
//   if (!credentials.ok()) ...  // e.g. a missing file, a cert without its key
//   builder.AddListeningPort("0.0.0.0:50051", *credentials, &port);
//
// The token is checked by a grpc::AuthMetadataProcessor, before any handler runs, for every
// method but grpc.health.v1.Health (probes carry no token). Files are read once, here.
#ifndef SERVER_SERVICE_SERVER_SECURITY_H_
#define SERVER_SERVICE_SERVER_SECURITY_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dataloader::server {

struct ServerSecurityOptions {
  // PEM certificate chain the server presents, and its PEM private key. Both or neither; both:
  // the server speaks TLS only.
  std::string tls_cert_file = {};
  std::string tls_key_file = {};
  // PEM CA certificate(s). Set: mutual TLS; a client must present a certificate signed by one
  // of them or its handshake fails. Needs tls_cert_file and tls_key_file.
  std::string tls_client_ca_file = {};
  // A file holding the bearer token (surrounding whitespace ignored; must not be empty). Set:
  // every call except grpc.health.v1.Health must carry `authorization: Bearer <token>`, or
  // it fails with UNAUTHENTICATED.
  std::string auth_token_file = {};
  // Serve plaintext on a non-loopback address. Off: such an address needs TLS. Ignored when
  // TLS is configured (it permits plaintext, it does not ask for it).
  bool allow_insecure_remote = false;
};

// The credentials to listen on `listen_address` (as given to ServerBuilder::AddListeningPort)
// with. InvalidArgument naming the flag if the options are inconsistent or plaintext is asked
// for on a non-loopback address; FailedPrecondition naming the file if one cannot be read or
// does not hold what it should.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> CreateServerCredentials(
    const ServerSecurityOptions& options, absl::string_view listen_address);

// Whether traffic to `listen_address` stays on this machine: a host of localhost, 127.0.0.0/8
// or ::1 (also ::ffff:127.x.x.x), or a unix: / unix-abstract: socket. 0.0.0.0, :: and an empty
// host listen on every interface and are not.
bool IsLoopbackAddress(absl::string_view listen_address);

// One line for the start-up log, e.g. "mTLS, bearer token" or "plaintext (loopback only)".
std::string DescribeServerSecurity(const ServerSecurityOptions& options,
                                   absl::string_view listen_address);

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_SERVER_SECURITY_H_
