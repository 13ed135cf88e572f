// Copyright 2026 The dataloader Authors.
#include "client/client_options.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace dataloader::client {

absl::Status ValidateClientOptions(const ClientOptions& options) {
  if (options.target.empty()) return absl::InvalidArgumentError("target must not be empty");
  for (size_t i = 0; i < options.failover_targets.size(); ++i) {
    if (options.failover_targets[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("failover_targets[", i, "] is empty"));
    }
  }
  if (options.max_retries < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_retries must be >= 0, got ", options.max_retries));
  }
  if (options.initial_backoff <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("initial_backoff must be > 0, got ",
                                                   absl::FormatDuration(options.initial_backoff)));
  }
  if (options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_backoff must be >= initial_backoff (", absl::FormatDuration(options.initial_backoff),
        "), got ", absl::FormatDuration(options.max_backoff)));
  }
  if (options.prefetch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("prefetch must be >= 1, got ", options.prefetch));
  }
  // Per target: whether plaintext is allowed depends on the target being loopback.
  if (absl::Status security = ValidateClientSecurityOptions(options.security, options.target);
      !security.ok()) {
    return security;
  }
  for (const std::string& target : options.failover_targets) {
    if (absl::Status security = ValidateClientSecurityOptions(options.security, target);
        !security.ok()) {
      return security;
    }
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> CreateClientChannel(const ClientOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  const auto millis = [](absl::Duration d) {
    return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d), INT32_MAX));
  };
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, millis(options.initial_backoff));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, millis(options.max_backoff));
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also takes it as the minimum time a
  // connection attempt is given (default 20 s); set to initial_backoff (100 ms), a server
  // slower than that to complete the HTTP/2 handshake (a loaded machine) could never be
  // reached.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateSecureChannel(options.target, options.security, args);
  if (channel.ok()) return *std::move(channel);
  // A file that ValidateClientOptions could read has gone. Never fall back to plaintext:
  // gRPC makes a channel without credentials one whose every call fails (INVALID_ARGUMENT).
  std::fprintf(stderr, "dataloader client: cannot secure the channel to %s: %s\n",
               options.target.c_str(), channel.status().ToString().c_str());
  return grpc::CreateCustomChannel(options.target, nullptr, args);
}

}  // namespace dataloader::client
