// Copyright 2026 The dataloader Authors.
//
// ClientOptions: where a client connects and how it buffers and retries.
//
//   dataloader::client::ClientOptions options{.target = "loader:50051", .prefetch = 8};
//   if (absl::Status valid = ValidateClientOptions(options); !valid.ok()) ...
#ifndef CLIENT_CLIENT_OPTIONS_H_
#define CLIENT_CLIENT_OPTIONS_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/channel_security.h"

namespace dataloader::client {

struct ClientOptions {
  // The server, as a gRPC target ("HOST:PORT", "dns:///name:port", "unix:/path"). Required.
  // Plaintext to a loopback target, TLS to any other unless `security` says otherwise.
  std::string target = {};
  // Other servers with the same pipelines (replicas), tried in turn after `target` when a
  // stream must reconnect: a resume token is valid on any server with the same config, so a
  // stream fails over instead of waiting for its server to come back. Default: none.
  std::vector<std::string> failover_targets = {};
  // Reconnect attempts in a row, without receiving a batch in between, before a retryable
  // failure (UNAVAILABLE) is given up and returned from Next(). Default 5; 0 disables
  // automatic resume. More rides out longer outages at the cost of reporting a dead server
  // later.
  int max_retries = 5;
  // Wait before the first reconnect attempt; each further attempt doubles it, up to
  // max_backoff. Default 100ms. Must be > 0.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  // Upper bound of the wait between reconnect attempts. Default 5s. Must be >= initial_backoff.
  absl::Duration max_backoff = absl::Seconds(5);
  // Batches received and buffered ahead of the caller, so that the trainer's compute overlaps
  // the network; the reader stops reading (and the server slows down) when the buffer is
  // full. Default 4; must be >= 1. More smooths out a jittery network at the cost of
  // prefetch * batch size of memory.
  int prefetch = 4;
  // TLS, mutual TLS and the bearer token (see client/channel_security.h). Default: plaintext
  // to a loopback target, TLS with the default roots to any other; no token.
  ClientSecurityOptions security = {};
};

// InvalidArgument naming the field and its value if `options` is not usable.
absl::Status ValidateClientOptions(const ClientOptions& options);

// A channel to options.target, secured as options.security says, that accepts messages of any
// size (a Batch can be tens of MiB, over gRPC's 4 MiB default) and reconnects on the schedule
// of initial_backoff/max_backoff.
// Each call returns a channel with its own connection (a local subchannel pool), so that a
// reconnect does not inherit the backoff state of a broken connection.
std::shared_ptr<grpc::Channel> CreateClientChannel(const ClientOptions& options);

}  // namespace dataloader::client

#endif  // CLIENT_CLIENT_OPTIONS_H_
