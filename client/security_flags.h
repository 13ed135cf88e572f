// Copyright 2026 The dataloader Authors.
//
// The command-line flags of transport security shared by dataloader_client and
// dataloader_health_probe (--tls, --tls_ca_file, --tls_cert_file, --tls_key_file,
// --tls_server_name, --auth_token_file, --allow_insecure), so that both tools reach a secured
// server the same way. A separate library: linking it adds these flags to a binary.
#ifndef CLIENT_SECURITY_FLAGS_H_
#define CLIENT_SECURITY_FLAGS_H_

#include "client/channel_security.h"

namespace dataloader::client {

// The ClientSecurityOptions the flags ask for (after absl::ParseCommandLine).
ClientSecurityOptions SecurityOptionsFromFlags();

}  // namespace dataloader::client

#endif  // CLIENT_SECURITY_FLAGS_H_
