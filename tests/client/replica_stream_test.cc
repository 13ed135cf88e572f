// Copyright 2026 The dataloader Authors.
//
// Scale-out: trainer ranks reading from several dataloader_server processes at once
// (ReplicaStream), including a replica killed mid-epoch.
#include "client/replica_stream.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/subprocess.h"

namespace dataloader::client {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::ServerProcess;

// 600 samples in batches of 10: 2 ranks x 3 replicas = 6 sub-shards of 100 samples, 10
// batches each. Each sample waits 5 ms, one at a time: a sub-stream takes ~0.5 s.
constexpr char kConfig[] = R"pb(
  pipelines {
    name: "replicated"
    synthetic { num_samples: 600 height: 2 width: 2 channels: 1 num_classes: 10 }
    stages {
      op: "latency"
      args { key: "millis" value: "5" }
    }
    batch_size: 10
  }
)pb";

class ReplicaStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/replica_stream_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::ofstream(dir_ + "/config.textproto") << kConfig;
    for (int i = 0; i < 3; ++i) replicas_.push_back(Start(0));
  }
  void TearDown() override {
    replicas_.clear();
    std::system(("rm -rf " + dir_).c_str());
  }

  std::unique_ptr<ServerProcess> Start(int port) {
    return std::make_unique<ServerProcess>(std::vector<std::string>{
        "--config=" + dir_ + "/config.textproto", absl::StrCat("--address=127.0.0.1:", port)});
  }
  std::vector<std::string> Targets() const {
    std::vector<std::string> targets;
    for (const auto& replica : replicas_) targets.push_back(replica->target());
    return targets;
  }

  struct RankResult {
    std::vector<int64_t> samples;  // In merged order.
    int batches = 0;
    int reconnects = 0;
    absl::Status status;
  };
  // Streams rank `rank` of 2; `after_batch(n)` runs after the n-th batch.
  RankResult ReadRank(uint32_t rank, const std::vector<std::string>& replicas,
                      const std::function<void(int)>& after_batch = nullptr,
                      int streams_per_replica = 1, uint64_t max_batches = 0,
                      const ReplicaStreamPosition& resume = {},
                      ReplicaStreamPosition* position = nullptr) {
    v1::StreamBatchesRequest request;
    request.set_pipeline("replicated");
    request.set_shard_index(rank);
    request.set_shard_count(2);
    request.set_epoch(1);
    request.set_seed(5);
    request.set_max_batches(max_batches);
    RankResult result;
    auto stream = ReplicaStream::Open({.replicas = replicas,
                                       .streams_per_replica = streams_per_replica,
                                       .client = {.max_retries = 20,
                                                  .initial_backoff = absl::Milliseconds(20),
                                                  .max_backoff = absl::Milliseconds(200),
                                                  .prefetch = 2}},
                                      request, resume);
    if (!stream.ok()) {
      result.status = stream.status();
      return result;
    }
    while (true) {
      absl::StatusOr<std::optional<v1::Batch>> batch = (*stream)->Next();
      if (!batch.ok()) {
        result.status = batch.status();
        break;
      }
      if (!batch->has_value()) break;
      ++result.batches;
      for (uint64_t id : (*batch)->sample_ids()) result.samples.push_back(static_cast<int64_t>(id));
      if (after_batch) after_batch(result.batches);
    }
    result.reconnects = (*stream)->reconnects();
    if (position != nullptr) *position = (*stream)->position();
    return result;
  }

  void ExpectEverySampleOnce(const RankResult& a, const RankResult& b) {
    std::map<int64_t, int> seen;
    for (int64_t id : a.samples) ++seen[id];
    for (int64_t id : b.samples) ++seen[id];
    EXPECT_EQ(seen.size(), 600u);
    for (const auto& [id, count] : seen) EXPECT_EQ(count, 1) << "sample " << id;
    EXPECT_EQ(a.batches, 30);  // 3 sub-shards x 10 batches: equal for both ranks.
    EXPECT_EQ(b.batches, 30);
  }

  std::string dir_;
  std::vector<std::unique_ptr<ServerProcess>> replicas_;
};

TEST_F(ReplicaStreamTest, TwoRanksOnThreeReplicasGetEverySampleOnceDeterministically) {
  RankResult rank0, rank1;
  std::thread other([&] { rank1 = ReadRank(1, Targets()); });
  rank0 = ReadRank(0, Targets());
  other.join();
  ASSERT_TRUE(rank0.status.ok()) << rank0.status;
  ASSERT_TRUE(rank1.status.ok()) << rank1.status;
  ExpectEverySampleOnce(rank0, rank1);
  // The merge order does not depend on timing, nor on the order replicas are listed in.
  std::vector<std::string> reversed = Targets();
  std::reverse(reversed.begin(), reversed.end());
  RankResult again = ReadRank(0, *ResolveReplicas(absl::StrJoin(reversed, ",")));
  EXPECT_EQ(again.samples, rank0.samples);
}

TEST_F(ReplicaStreamTest, AReplicaKilledMidEpochLosesNothing) {
  RankResult rank0, rank1;
  std::thread other([&] { rank1 = ReadRank(1, Targets()); });
  const int killed_port = replicas_[1]->port();
  rank0 = ReadRank(0, Targets(), [&](int batches) {
    if (batches == 3) {
      replicas_[1]->Kill();  // A crash: its sub-streams fail over to the other replicas.
    } else if (batches == 12) {
      replicas_[1] = Start(killed_port);  // And it comes back.
    }
  });
  other.join();
  ASSERT_TRUE(rank0.status.ok()) << rank0.status;
  ASSERT_TRUE(rank1.status.ok()) << rank1.status;
  ExpectEverySampleOnce(rank0, rank1);
  EXPECT_GT(rank0.reconnects + rank1.reconnects, 0);
}

// Sub-shard j of S = n * R * K, read alone with a plain BatchStream.
std::vector<std::vector<int64_t>> ReadSubShard(const std::string& target, uint32_t index,
                                               uint32_t count) {
  v1::StreamBatchesRequest request;
  request.set_pipeline("replicated");
  request.set_shard_index(index);
  request.set_shard_count(count);
  request.set_epoch(1);
  request.set_seed(5);
  std::vector<std::vector<int64_t>> batches;
  auto stream = BatchStream::Open({.target = target}, request);
  EXPECT_TRUE(stream.ok());
  while (true) {
    auto batch = (*stream)->Next();
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok() || !batch->has_value()) break;
    batches.emplace_back((*batch)->sample_ids().begin(), (*batch)->sample_ids().end());
  }
  return batches;
}

TEST_F(ReplicaStreamTest, KStreamsPerReplicaFollowTheSubShardRuleAndMergeOrder) {
  RankResult rank0, rank1;
  std::thread other([&] { rank1 = ReadRank(1, Targets(), nullptr, /*streams_per_replica=*/2); });
  rank0 = ReadRank(0, Targets(), nullptr, /*streams_per_replica=*/2);
  other.join();
  ASSERT_TRUE(rank0.status.ok()) << rank0.status;
  ASSERT_TRUE(rank1.status.ok()) << rank1.status;
  ExpectEverySampleOnce(rank0, rank1);  // 6 sub-streams x 5 batches per rank.
  // Batch i of rank 0's merged stream is batch i / 6 of sub-stream i % 6, which reads shard
  // 0 + (i % 6) * 2 of 12.
  std::vector<int64_t> expected;
  std::vector<std::vector<std::vector<int64_t>>> sub_shards;
  for (uint32_t j = 0; j < 6; ++j) sub_shards.push_back(ReadSubShard(Targets()[0], j * 2, 12));
  for (size_t i = 0; i < 30; ++i) {
    ASSERT_EQ(sub_shards[i % 6].size(), 5u);
    for (int64_t id : sub_shards[i % 6][i / 6]) expected.push_back(id);
  }
  EXPECT_EQ(rank0.samples, expected);
}

TEST_F(ReplicaStreamTest, MaxBatchesBoundsTheMergedStreamAndItsPositionResumesIt) {
  const RankResult whole = ReadRank(0, Targets(), nullptr, 2);
  ASSERT_TRUE(whole.status.ok()) << whole.status;
  ASSERT_EQ(whole.batches, 30);
  // 7 batches (not a multiple of the 6 sub-streams), then the rest from the position, split
  // again with max_batches 11 then unbounded: the same samples in the same order.
  ReplicaStreamPosition position;
  RankResult head = ReadRank(0, Targets(), nullptr, 2, 7, {}, &position);
  ASSERT_TRUE(head.status.ok()) << head.status;
  EXPECT_EQ(head.batches, 7);
  EXPECT_EQ(position.next_sub_stream, 1u);
  ReplicaStreamPosition later;
  RankResult middle = ReadRank(0, Targets(), nullptr, 2, 11, position, &later);
  ASSERT_TRUE(middle.status.ok()) << middle.status;
  EXPECT_EQ(middle.batches, 11);
  RankResult tail = ReadRank(0, Targets(), nullptr, 2, 0, later);
  ASSERT_TRUE(tail.status.ok()) << tail.status;
  EXPECT_EQ(tail.batches, 12);
  std::vector<int64_t> joined = head.samples;
  joined.insert(joined.end(), middle.samples.begin(), middle.samples.end());
  joined.insert(joined.end(), tail.samples.begin(), tail.samples.end());
  EXPECT_EQ(joined, whole.samples);
}

TEST(ReplicaStreamOpenTest, RefusesShardCountsThatOverflowAndPositionsThatDoNotFit) {
  v1::StreamBatchesRequest request;
  request.set_pipeline("p");
  request.set_shard_index(0);
  request.set_shard_count(1u << 31);
  const std::vector<std::string> two = {"127.0.0.1:1", "127.0.0.1:2"};
  // 2^31 ranks x 2 replicas = 2^32 sub-shards: one more than a uint32 holds (this wrapped to 0).
  absl::Status overflow = ReplicaStream::Open({.replicas = two}, request).status();
  EXPECT_EQ(overflow.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(overflow.message()), HasSubstr("32-bit shard_count"));
  request.set_shard_count(1u << 30);
  absl::Status streams =
      ReplicaStream::Open({.replicas = two, .streams_per_replica = 4}, request).status();
  EXPECT_THAT(std::string(streams.message()), HasSubstr("4 streams per replica"));
  EXPECT_TRUE(ReplicaStream::Open({.replicas = two}, request).ok());  // 2^31 fits.

  request.set_shard_count(2);
  absl::Status zero =
      ReplicaStream::Open({.replicas = two, .streams_per_replica = 0}, request).status();
  EXPECT_THAT(std::string(zero.message()), HasSubstr("streams_per_replica must be >= 1, got 0"));
  absl::Status tokens =
      ReplicaStream::Open({.replicas = two}, request, {.resume_tokens = {"a", "b", "c"}}).status();
  EXPECT_THAT(std::string(tokens.message()), HasSubstr("3 tokens, this stream has 2 sub-streams"));
  absl::Status turn =
      ReplicaStream::Open({.replicas = two}, request, {.next_sub_stream = 2}).status();
  EXPECT_THAT(std::string(turn.message()), HasSubstr("next_sub_stream must be < 2, got 2"));
}

TEST(ResolveReplicasTest, ListsAndDnsNames) {
  auto listed = ResolveReplicas("b:2, a:1");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(*listed, (std::vector<std::string>{"a:1", "b:2"}));
  auto dns = ResolveReplicas("dns:localhost:1234");
  ASSERT_TRUE(dns.ok()) << dns.status();
  EXPECT_THAT(*dns, Contains("127.0.0.1:1234"));
  EXPECT_THAT(ResolveReplicas("dns:localhost").status().message(),
              HasSubstr("expected dns:NAME:PORT"));
  EXPECT_THAT(ResolveReplicas("a:1,a:1").status().message(), HasSubstr("lists one twice"));
  EXPECT_TRUE(absl::IsNotFound(ResolveReplicas("dns:no-such-host.invalid:1").status()));
}

}  // namespace
}  // namespace dataloader::client
