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
// K streams per replica (ReplicaStreamOptions::streams_per_replica): when one HTTP/2
// connection cannot carry what a trainer needs, each replica serves K sub-streams, each on
// its own connection. The rule is the same with S = R*K sub-streams:
//
//   sub-stream j of S (0 <= j < S)  ->  shard k + j*n of n*S, read from replicas[j % R]
//
// and the merge is round-robin over j. K = 1 is the rule above.
//
// Each sub-stream is a BatchStream (prefetch, automatic resume) whose failover targets are
// the other replicas: if its replica dies or drains, it resumes on the next one with its
// resume token, so nothing is lost or repeated. The merged stream resumes exactly too: save
// position() after a batch, pass it to Open().
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
  // K: sub-streams per replica, each on its own connection. Default 1; must be >= 1. More
  // lets one trainer receive more than one HTTP/2 connection carries, at the cost of K
  // times the threads, connections and prefetch memory. Every rank must use the same K.
  int streams_per_replica = 1;
  // Applied to every sub-stream (target and failover_targets are set per sub-stream).
  ClientOptions client = {};
};

// Where a merged stream stands after a batch: enough to continue it exactly (another
// ReplicaStream, process or set of servers with the same config).
struct ReplicaStreamPosition {
  // Per sub-stream, the resume token of its last batch returned (empty: none yet).
  std::vector<std::string> resume_tokens = {};
  // The sub-stream whose batch comes next in the merge order.
  size_t next_sub_stream = 0;
};

// Thread-compatible: one consumer calls Next(). Not copyable or movable.
class ReplicaStream {
 public:
  // `request` names the rank's shard (shard_index of shard_count) as for a single server;
  // its resume_token must be empty (resume a merged stream with `resume`, from position()).
  // request.max_batches bounds the merged stream: its first max_batches batches (after the
  // resume point), split among the sub-streams in merge order.
  // InvalidArgument naming the value if there are no replicas, K < 1, shard_count x R x K
  // does not fit the wire's 32-bit shard_count, or `resume` does not fit (another number of
  // sub-streams).
  static absl::StatusOr<std::unique_ptr<ReplicaStream>> Open(
      const ReplicaStreamOptions& options, const v1::StreamBatchesRequest& request,
      const ReplicaStreamPosition& resume = {});

  ReplicaStream(const ReplicaStream&) = delete;
  ReplicaStream& operator=(const ReplicaStream&) = delete;

  // The next batch in merge order; nullopt when every sub-stream ended cleanly; the first
  // failure of any sub-stream otherwise (naming the sub-shard and replica).
  absl::StatusOr<std::optional<v1::Batch>> Next();

  // After the last batch Next() returned: continue with Open(..., position()).
  ReplicaStreamPosition position() const { return {tokens_, turn_}; }
  // Reconnects of all sub-streams (including failovers).
  int reconnects() const;
  // S = R * K.
  int sub_streams() const { return static_cast<int>(streams_.size()); }

 private:
  ReplicaStream() = default;

  // One per sub-stream; null for a sub-stream with nothing left to send.
  std::vector<std::unique_ptr<BatchStream>> streams_;
  std::vector<std::string> names_;  // "sub-shard 3/6 on HOST:PORT", for errors.
  std::vector<std::string> tokens_;
  std::vector<bool> done_;
  size_t turn_ = 0;
};

}  // namespace dataloader::client

#endif  // CLIENT_REPLICA_STREAM_H_
