// Copyright 2026 The dataloader Authors.
//
// Scale-out: trainer ranks reading from several dataloader_server processes at once
// (ReplicaStream), including a replica killed mid-epoch.
#include "client/replica_stream.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
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
                      const std::function<void(int)>& after_batch = nullptr) {
    v1::StreamBatchesRequest request;
    request.set_pipeline("replicated");
    request.set_shard_index(rank);
    request.set_shard_count(2);
    request.set_epoch(1);
    request.set_seed(5);
    RankResult result;
    auto stream = ReplicaStream::Open({.replicas = replicas,
                                       .client = {.max_retries = 20,
                                                  .initial_backoff = absl::Milliseconds(20),
                                                  .max_backoff = absl::Milliseconds(200),
                                                  .prefetch = 2}},
                                      request);
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
