// Copyright 2026 The dataloader Authors.
//
// Admission and drain: one lock decides both, so no stream slips between a drain's start and
// its sweep of the running streams.
#include "server/service/active_streams.h"

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace dataloader::server {
namespace {

class FakeStream final : public ServedStream {
 public:
  void EndForDrain() override { ended = true; }
  PipelineStats Stats() const override { return {}; }
  bool ended = false;
};

TEST(ActiveStreamsTest, AdmitsUpToTheLimitAndReleasesIdempotently) {
  ActiveStreams streams(2);
  FakeStream a, b, c;
  EXPECT_TRUE(streams.Admit(&a).ok());
  EXPECT_TRUE(streams.Admit(&b).ok());
  absl::Status full = streams.Admit(&c);
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  streams.Release(&a);
  streams.Release(&a);
  EXPECT_EQ(streams.size(), 1);
  EXPECT_TRUE(streams.Admit(&c).ok());
}

TEST(ActiveStreamsTest, NothingIsAdmittedOnceADrainBegan) {
  ActiveStreams streams(10);
  FakeStream before, after;
  ASSERT_TRUE(streams.Admit(&before).ok());
  streams.BeginDrain();
  EXPECT_TRUE(absl::IsUnavailable(streams.Admit(&after)));
  int seen = 0;
  streams.ForEach([&](ServedStream& stream) {
    EXPECT_EQ(&stream, &before);
    ++seen;
  });
  EXPECT_EQ(seen, 1);
  EXPECT_FALSE(streams.AwaitNone(absl::Now() + absl::Milliseconds(10)));
  streams.Release(&before);
  EXPECT_TRUE(streams.AwaitNone(absl::Now() + absl::Seconds(10)));
}

// Streams admitted concurrently with a drain: every one admitted is in the drain's sweep
// (none registered after it looked), so every admitted stream gets ended.
TEST(ActiveStreamsTest, ADrainSweepsEveryStreamAdmittedConcurrently) {
  for (int round = 0; round < 20; ++round) {
    ActiveStreams streams(100000);
    std::vector<FakeStream> fakes(4000);
    std::atomic<int> next{0};
    std::vector<std::thread> admitters;
    std::vector<std::vector<FakeStream*>> admitted(4);
    for (int t = 0; t < 4; ++t) {
      admitters.emplace_back([&, t] {
        for (int i; (i = next.fetch_add(1)) < static_cast<int>(fakes.size());) {
          if (streams.Admit(&fakes[i]).ok()) admitted[t].push_back(&fakes[i]);
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50 * round));
    streams.BeginDrain();
    streams.ForEach([](ServedStream& stream) { stream.EndForDrain(); });
    for (std::thread& thread : admitters) thread.join();
    for (const auto& each : admitted) {
      for (FakeStream* stream : each) ASSERT_TRUE(stream->ended) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace dataloader::server
