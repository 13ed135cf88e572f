// Copyright 2026 The dataloader Authors.

#include "client/replica_stream.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dataloader::client {
namespace {

absl::StatusOr<std::vector<std::string>> ResolveDns(const std::string& name,
                                                    const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(name.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot resolve replicas '", name, "': ", gai_strerror(rc)));
  }
  std::set<std::string> addresses;  // Sorted and without duplicates.
  for (addrinfo* each = found; each != nullptr; each = each->ai_next) {
    char host[NI_MAXHOST];
    if (getnameinfo(each->ai_addr, each->ai_addrlen, host, sizeof host, nullptr, 0,
                    NI_NUMERICHOST) != 0) {
      continue;
    }
    addresses.insert(each->ai_family == AF_INET6 ? absl::StrCat("[", host, "]:", port)
                                                 : absl::StrCat(host, ":", port));
  }
  freeaddrinfo(found);
  if (addresses.empty()) {
    return absl::NotFoundError(absl::StrCat("replicas '", name, "' resolve to no address"));
  }
  return std::vector<std::string>(addresses.begin(), addresses.end());
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ResolveReplicas(const std::string& spec) {
  absl::string_view rest = spec;
  if (absl::ConsumePrefix(&rest, "dns:")) {
    absl::ConsumePrefix(&rest, "///");  // gRPC's spelling, dns:///name:port, works too.
    const size_t colon = rest.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("replicas '", spec, "': expected dns:NAME:PORT"));
    }
    return ResolveDns(std::string(rest.substr(0, colon)), std::to_string(port));
  }
  std::vector<std::string> replicas;
  for (absl::string_view part : absl::StrSplit(spec, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty() || part.find(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("replicas '", spec, "': expected HOST:PORT,HOST:PORT,... or dns:NAME:PORT"));
    }
    replicas.emplace_back(part);
  }
  std::sort(replicas.begin(), replicas.end());
  if (std::adjacent_find(replicas.begin(), replicas.end()) != replicas.end()) {
    return absl::InvalidArgumentError(absl::StrCat("replicas '", spec, "' lists one twice"));
  }
  return replicas;
}

absl::StatusOr<std::unique_ptr<ReplicaStream>> ReplicaStream::Open(
    const ReplicaStreamOptions& options, const v1::StreamBatchesRequest& request,
    const ReplicaStreamPosition& resume) {
  const uint64_t replicas = options.replicas.size();
  if (replicas == 0) return absl::InvalidArgumentError("replicas must not be empty");
  if (options.streams_per_replica < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("streams_per_replica must be >= 1, got ", options.streams_per_replica));
  }
  if (!request.resume_token().empty()) {
    return absl::InvalidArgumentError(
        "request.resume_token must be empty: resume a ReplicaStream with its position()");
  }
  const uint64_t ranks = request.shard_count() == 0 ? 1 : request.shard_count();
  if (request.shard_index() >= ranks) {
    return absl::InvalidArgumentError(absl::StrCat("shard_index must be < shard_count (", ranks,
                                                   "), got ", request.shard_index()));
  }
  // 64-bit products of values below 2^32: no overflow before the check.
  const uint64_t sub_streams = replicas * static_cast<uint64_t>(options.streams_per_replica);
  if (sub_streams > UINT32_MAX || ranks * sub_streams > UINT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shard_count ", ranks, " x ", replicas, " replicas x ", options.streams_per_replica,
        " streams per replica: more sub-shards than the wire's 32-bit shard_count holds (at most ",
        UINT32_MAX, ")"));
  }
  if (!resume.resume_tokens.empty() && resume.resume_tokens.size() != sub_streams) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the resume position has ", resume.resume_tokens.size(), " tokens, this stream has ",
        sub_streams, " sub-streams (", replicas, " replicas x ", options.streams_per_replica,
        "): it was saved with other replicas or streams_per_replica"));
  }
  if (resume.next_sub_stream >= sub_streams) {
    return absl::InvalidArgumentError(
        absl::StrCat("the resume position's next_sub_stream must be < ", sub_streams, ", got ",
                     resume.next_sub_stream));
  }
  auto merged = std::unique_ptr<ReplicaStream>(new ReplicaStream());
  merged->turn_ = resume.next_sub_stream;
  merged->tokens_ = resume.resume_tokens;
  merged->tokens_.resize(sub_streams);
  merged->done_.assign(sub_streams, false);
  const uint64_t total = request.max_batches();
  for (uint64_t j = 0; j < sub_streams; ++j) {
    const size_t r = j % replicas;
    v1::StreamBatchesRequest sub = request;
    sub.set_shard_index(static_cast<uint32_t>(request.shard_index() + j * ranks));
    sub.set_shard_count(static_cast<uint32_t>(ranks * sub_streams));
    sub.set_resume_token(merged->tokens_[j]);
    ClientOptions client = options.client;
    client.target = options.replicas[r];
    client.failover_targets.clear();
    for (size_t other = 1; other < replicas; ++other) {
      client.failover_targets.push_back(options.replicas[(r + other) % replicas]);
    }
    merged->names_.push_back(absl::StrCat("sub-shard ", sub.shard_index(), "/", sub.shard_count(),
                                          " on ", client.target));
    if (total != 0) {
      // The merged stream's next `total` batches are the turns next_sub_stream,
      // next_sub_stream + 1, ... (mod S): this sub-stream's share of them.
      const uint64_t offset = (j + sub_streams - resume.next_sub_stream) % sub_streams;
      const uint64_t share = total / sub_streams + (offset < total % sub_streams ? 1 : 0);
      if (share == 0) {
        merged->streams_.push_back(nullptr);
        merged->done_[j] = true;
        continue;
      }
      sub.set_max_batches(share);
    }
    absl::StatusOr<std::unique_ptr<BatchStream>> stream = BatchStream::Open(client, sub);
    if (!stream.ok()) return stream.status();
    merged->streams_.push_back(*std::move(stream));
  }
  return merged;
}

absl::StatusOr<std::optional<v1::Batch>> ReplicaStream::Next() {
  for (size_t tried = 0; tried < streams_.size(); ++tried) {
    const size_t j = turn_;
    turn_ = (turn_ + 1) % streams_.size();
    if (done_[j]) continue;
    absl::StatusOr<std::optional<v1::Batch>> batch = streams_[j]->Next();
    if (!batch.ok()) {
      turn_ = j;  // Where it stands: the failed sub-stream's batch comes next.
      return absl::Status(batch.status().code(),
                          absl::StrCat(names_[j], ": ", batch.status().message()));
    }
    if (batch->has_value()) {
      tokens_[j] = (*batch)->resume_token();
      return batch;
    }
    done_[j] = true;
  }
  return std::optional<v1::Batch>();
}

int ReplicaStream::reconnects() const {
  int total = 0;
  for (const auto& stream : streams_) {
    if (stream != nullptr) total += stream->reconnects();
  }
  return total;
}

}  // namespace dataloader::client
