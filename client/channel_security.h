// Copyright 2026 The dataloader Authors.
//
// Client transport security: TLS (optionally with a client certificate for mutual TLS) and a
// bearer token, matching the server's --tls_* and --auth_token_file flags. Plaintext is used
// for a loopback target unless TLS is asked for, and for any other target only if
// allow_insecure is set.
//
//   ClientSecurityOptions security{.tls_ca_file = "ca.pem", .auth_token_file = "token"};
//   if (absl::Status valid = ValidateClientSecurityOptions(security, target); !valid.ok()) ...
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
//       CreateSecureChannel(target, security, grpc::ChannelArguments());
#ifndef CLIENT_CHANNEL_SECURITY_H_
#define CLIENT_CHANNEL_SECURITY_H_

#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dataloader::client {

struct ClientSecurityOptions {
  // Use TLS even to a loopback target. TLS is also used when any tls_* field is set, and for a
  // non-loopback target unless allow_insecure is set.
  bool tls = false;
  // PEM CA certificate(s) the server's certificate must chain to. Empty: gRPC's default roots
  // (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, else the system's).
  std::string tls_ca_file = {};
  // This client's PEM certificate chain and private key, for a server that requires mutual
  // TLS (--tls_client_ca_file). Both or neither.
  std::string tls_cert_file = {};
  std::string tls_key_file = {};
  // The name the server's certificate must be valid for, instead of the target's host: for a
  // target that is an IP address or a name missing from the certificate (tests, a pod IP).
  std::string tls_server_name_override = {};
  // The bearer token sent as `authorization: Bearer <token>` on every call: read from
  // auth_token_file (surrounding whitespace ignored) or given in auth_token. At most one.
  std::string auth_token_file = {};
  std::string auth_token = {};
  // Allow plaintext to a non-loopback target (the token, if any, then travels in clear).
  bool allow_insecure = false;
};

// Whether `target` (a gRPC target: "HOST:PORT", "dns:///HOST:PORT", "ipv4:...", "ipv6:...",
// "unix:...") stays on this machine: localhost, 127.0.0.0/8, ::1, or a unix socket.
bool IsLoopbackTarget(absl::string_view target);

// Whether a channel to `target` with `options` uses TLS (see ClientSecurityOptions::tls).
bool UsesTls(const ClientSecurityOptions& options, absl::string_view target);

// OK if CreateSecureChannel can build a channel: InvalidArgument naming the field if the
// options are inconsistent, FailedPrecondition naming the file if one cannot be read or does
// not hold what it should. Reads the files.
absl::Status ValidateClientSecurityOptions(const ClientSecurityOptions& options,
                                           absl::string_view target);

// A channel to `target` with `args` (tls_server_name_override is added to them) secured as
// `options` say. Reads the files each time, so a new channel picks up rotated certificates.
// Over TLS the token travels as call credentials; over plaintext (which gRPC refuses to send
// call credentials on) a client interceptor adds it to every call's metadata.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateSecureChannel(
    const std::string& target, const ClientSecurityOptions& options, grpc::ChannelArguments args);

}  // namespace dataloader::client

#endif  // CLIENT_CHANNEL_SECURITY_H_
