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
    const std::vector<std::string>& resume_tokens) {
  const size_t replicas = options.replicas.size();
  if (replicas == 0) return absl::InvalidArgumentError("replicas must not be empty");
  if (!request.resume_token().empty()) {
    return absl::InvalidArgumentError(
        "request.resume_token must be empty: resume a ReplicaStream with resume_tokens()");
  }
  if (!resume_tokens.empty() && resume_tokens.size() != replicas) {
    return absl::InvalidArgumentError(
        absl::StrCat("resume_tokens has ", resume_tokens.size(), " tokens for ", replicas,
                     " replicas (one per sub-stream, from resume_tokens())"));
  }
  const uint32_t ranks = request.shard_count() == 0 ? 1 : request.shard_count();
  if (request.shard_index() >= ranks) {
    return absl::InvalidArgumentError(absl::StrCat("shard_index must be < shard_count (", ranks,
                                                   "), got ", request.shard_index()));
  }
  std::vector<std::unique_ptr<BatchStream>> streams;
  std::vector<std::string> names;
  for (size_t r = 0; r < replicas; ++r) {
    v1::StreamBatchesRequest sub = request;
    sub.set_shard_index(request.shard_index() + static_cast<uint32_t>(r) * ranks);
    sub.set_shard_count(ranks * static_cast<uint32_t>(replicas));
    if (!resume_tokens.empty()) sub.set_resume_token(resume_tokens[r]);
    ClientOptions client = options.client;
    client.target = options.replicas[r];
    client.failover_targets.clear();
    for (size_t other = 1; other < replicas; ++other) {
      client.failover_targets.push_back(options.replicas[(r + other) % replicas]);
    }
    names.push_back(absl::StrCat("sub-shard ", sub.shard_index(), "/", sub.shard_count(), " on ",
                                 client.target));
    absl::StatusOr<std::unique_ptr<BatchStream>> stream = BatchStream::Open(client, sub);
    if (!stream.ok()) return stream.status();
    streams.push_back(*std::move(stream));
  }
  return std::unique_ptr<ReplicaStream>(new ReplicaStream(std::move(streams), std::move(names)));
}

absl::StatusOr<std::optional<v1::Batch>> ReplicaStream::Next() {
  for (size_t tried = 0; tried < streams_.size(); ++tried) {
    const size_t r = turn_;
    turn_ = (turn_ + 1) % streams_.size();
    if (done_[r]) continue;
    absl::StatusOr<std::optional<v1::Batch>> batch = streams_[r]->Next();
    if (!batch.ok()) {
      return absl::Status(batch.status().code(),
                          absl::StrCat(names_[r], ": ", batch.status().message()));
    }
    if (batch->has_value()) return batch;
    done_[r] = true;
  }
  return std::optional<v1::Batch>();
}

std::vector<std::string> ReplicaStream::resume_tokens() const {
  std::vector<std::string> tokens;
  for (const auto& stream : streams_) tokens.push_back(stream->resume_token());
  return tokens;
}

int ReplicaStream::reconnects() const {
  int total = 0;
  for (const auto& stream : streams_) total += stream->reconnects();
  return total;
}

}  // namespace dataloader::client
