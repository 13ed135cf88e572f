// Copyright 2026 The dataloader Authors.
//
// The security flags of the client tools (see security_flags.h).
#include "client/security_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(bool, tls, false,
          "Connect with TLS even to a loopback target (TLS is the default for any other target, "
          "and implied by the other --tls_* flags).");
ABSL_FLAG(std::string, tls_ca_file, "",
          "PEM CA certificate(s) the server's certificate must chain to; empty: the default "
          "roots.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain of this client, for a server that requires mutual TLS; needs "
          "--tls_key_file.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, tls_server_name, "",
          "The name the server's certificate must be valid for, when it is not the target's "
          "host (e.g. the target is an IP address).");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding the bearer token to send (authorization: Bearer <token>).");
ABSL_FLAG(bool, allow_insecure, false,
          "Allow plaintext to a non-loopback target (only on a trusted network).");

namespace dataloader::client {

ClientSecurityOptions SecurityOptionsFromFlags() {
  return {.tls = absl::GetFlag(FLAGS_tls),
          .tls_ca_file = absl::GetFlag(FLAGS_tls_ca_file),
          .tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file),
          .tls_key_file = absl::GetFlag(FLAGS_tls_key_file),
          .tls_server_name_override = absl::GetFlag(FLAGS_tls_server_name),
          .auth_token_file = absl::GetFlag(FLAGS_auth_token_file),
          .auth_token = {},
          .allow_insecure = absl::GetFlag(FLAGS_allow_insecure)};
}

}  // namespace dataloader::client
