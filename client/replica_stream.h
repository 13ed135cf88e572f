// Copyright 2026 The dataloader Authors.
//
// ReplicaStream: one trainer rank's batches from R loader replicas at once, merged into one
// iterator. When one loader process cannot feed a trainer, R replicas (a Kubernetes
// StatefulSet behind a headless Service, or a list of addresses) each serve a disjoint
// sub-shard of the rank's shard:
//
//   rank k of n, replica stream r of R  ->  StreamBatchesRequest shard k + r*n of n*R
//
// Shards are strided over the epoch's order (shard i takes positions i, i + count, ...), so
// the R sub-shards of rank k are exactly its positions k, k + n, ... split R ways: the ranks
// together still see every sample once (up to the remainder policy, now of n*R shards), and
// every sub-shard has the same number of batches, so every rank gets R times that many
// (step parity holds). The merge is deterministic: round-robin by sub-shard (batch 0 of
// sub-shard 0, batch 0 of sub-shard 1, ..., batch 1 of sub-shard 0, ...), whatever the
// replicas' speeds. Every rank must use the same R.
//
// Each sub-stream is a BatchStream (prefetch, automatic resume) whose failover targets are
// the other replicas: if its replica dies or drains, it resumes on the next one with its
// resume token, so nothing is lost or repeated.
//
//   auto replicas = ResolveReplicas("dns:loader-headless.training.svc:50051");
//   auto stream = ReplicaStream::Open({.replicas = *replicas}, request /* rank, world */);
//   while (auto batch = (*stream)->Next(); batch.ok() && batch->has_value()) { ... }
#ifndef CLIENT_REPLICA_STREAM_H_
#define CLIENT_REPLICA_STREAM_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/batch_stream.h"
#include "client/client_options.h"
#include "dataloader/v1/data_loader.pb.h"

namespace dataloader::client {

// The replicas named by `spec`, sorted so every rank orders them alike:
//   "HOST:PORT,HOST:PORT,..."   an explicit list (kept as given, then sorted);
//   "dns:NAME:PORT"             every address NAME resolves to (a headless Service's pods),
//                               as "IP:PORT" ("[IPv6]:PORT").
// InvalidArgument for a malformed spec, NotFound naming NAME if it does not resolve.
absl::StatusOr<std::vector<std::string>> ResolveReplicas(const std::string& spec);

struct ReplicaStreamOptions {
  // One address per replica (see ResolveReplicas); R = replicas.size() >= 1.
  std::vector<std::string> replicas = {};
  // Applied to every sub-stream (target and failover_targets are set per sub-stream).
  ClientOptions client = {};
};

class ReplicaStream {
 public:
  // `request` names the rank's shard (shard_index of shard_count) as for a single server;
  // its resume_token must be empty (resume a merged stream with resume_tokens()).
  // `resume_tokens`, if not empty, holds one token per sub-stream from resume_tokens().
  static absl::StatusOr<std::unique_ptr<ReplicaStream>> Open(
      const ReplicaStreamOptions& options, const v1::StreamBatchesRequest& request,
      const std::vector<std::string>& resume_tokens = {});

  // The next batch in merge order; nullopt when every sub-stream ended cleanly; the first
  // failure of any sub-stream otherwise (naming the sub-shard and replica).
  absl::StatusOr<std::optional<v1::Batch>> Next();

  // Per sub-stream, the resume token of its last batch returned by Next().
  std::vector<std::string> resume_tokens() const;
  // Reconnects of all sub-streams (including failovers).
  int reconnects() const;
  int sub_streams() const { return static_cast<int>(streams_.size()); }

 private:
  explicit ReplicaStream(std::vector<std::unique_ptr<BatchStream>> streams,
                         std::vector<std::string> names)
      : streams_(std::move(streams)), names_(std::move(names)), done_(streams_.size(), false) {}

  std::vector<std::unique_ptr<BatchStream>> streams_;
  std::vector<std::string> names_;  // "sub-shard 3/6 on HOST:PORT", for errors.
  std::vector<bool> done_;
  size_t turn_ = 0;
};

}  // namespace dataloader::client

#endif  // CLIENT_REPLICA_STREAM_H_
