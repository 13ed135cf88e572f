// Copyright 2026 The dataloader Authors.
//
// Fault suites against real dataloader_server processes on 127.0.0.1 (bounded in time):
//   FaultKillTest               SIGKILL at random points of an epoch, resume on a new process:
//                               nothing lost, nothing repeated, the same bytes.
//   FaultAbandonedStreamsTest   1,000 streams abandoned (cancel, connection closed, deadline,
//                               client process killed): the server's threads, fds and memory
//                               (/proc/PID) stay flat and every stream is accounted as ended.
//   FaultAdmissionTest          max_streams streams at once all progress, one more is refused
//                               with RESOURCE_EXHAUSTED, and its slot is free once one ends.
//   FaultStalledReaderTest      readers that stop beside one that reads fast: the fast one gets
//                               its epoch, the stalled ones hold bounded memory and, once they
//                               read again, get every batch.
// The bad-file catalogue is bad_files_test.cc; malformed requests are RequestHardeningTest in
// tests/server/service/data_loader_service_test.cc.
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/fingerprint.h"
#include "tests/client/subprocess.h"
#include "tests/faults/fault_util.h"

namespace dataloader::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kConfig[] = R"pb(
  pipelines {
    # 150 batches of 4 samples, per-sample randomness, ~5 ms a sample one at a time: an epoch
    # takes about three seconds, longer than the five kills' streaming together.
    name: "epoch"
    synthetic { num_samples: 600 height: 8 width: 8 channels: 3 num_classes: 10 }
    stages {
      op: "latency"
      args { key: "millis" value: "5" }
      concurrency: 1  # Not automatic (16 at once): the epoch must outlast the kills.
    }
    stages { op: "random_brightness" }
    batch_size: 4
  }
  pipelines {
    # 256 batches of 96 KiB, about 2 ms a batch: a stream is mid-flight when abandoned.
    name: "abandon"
    synthetic { num_samples: 2048 height: 64 width: 64 channels: 3 }
    stages {
      op: "latency"
      args { key: "millis" value: "1" }
      concurrency: 4
    }
    batch_size: 8
    shuffle: false
  }
  pipelines {
    # As "abandon", ~5 s an epoch: a client process is killed mid-stream.
    name: "abandon_slow"
    synthetic { num_samples: 2048 height: 64 width: 64 channels: 3 }
    stages {
      op: "latency"
      args { key: "millis" value: "5" }
      concurrency: 2
    }
    batch_size: 8
    shuffle: false
  }
  pipelines {
    # 1 MiB batches: more than gRPC's flow-control windows hold, so a reader that stops keeps
    # its stream (and its slot) open.
    name: "mib"
    synthetic { num_samples: 512 height: 256 width: 256 channels: 4 }
    batch_size: 4
    shuffle: false
    sink_buffer: 2
  }
)pb";

std::string ConfigFile() {
  static const std::string* const path = new std::string(
      WriteFile(FreshDirectory("process_faults_config") / "config.textproto", kConfig));
  return *path;
}

v1::StreamBatchesRequest Request(const std::string& pipeline) {
  v1::StreamBatchesRequest request;
  request.set_pipeline(pipeline);
  request.set_epoch(3);
  request.set_seed(11);
  return request;
}

// A batch as compared across processes: its place, samples and bytes (not its token, which is
// the same anyway).
struct BatchDigest {
  uint64_t sequence = 0;
  std::vector<int64_t> samples;
  uint64_t bytes_hash = 0;
  std::string resume_token;
  bool operator==(const BatchDigest& other) const {
    return sequence == other.sequence && samples == other.samples && bytes_hash == other.bytes_hash;
  }
};

BatchDigest Digest(const v1::Batch& batch) {
  BatchDigest digest{.sequence = batch.sequence(),
                     .samples = {batch.sample_ids().begin(), batch.sample_ids().end()},
                     .bytes_hash = 0,
                     .resume_token = batch.resume_token()};
  server::Fingerprint hash;
  for (const v1::Tensor& tensor : batch.tensors()) hash.Add(absl::string_view(tensor.data()));
  digest.bytes_hash = hash.value();
  return digest;
}

// Reads `request` to its end from `target`; every batch goes to `received` as it arrives.
grpc::Status ReadAll(const std::string& target, const v1::StreamBatchesRequest& request,
                     std::vector<BatchDigest>& received) {
  auto stub = OwnConnectionStub(target);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = stub->StreamBatches(&context, request);
  v1::Batch batch;
  while (reader->Read(&batch)) received.push_back(Digest(batch));
  return reader->Finish();
}

// The seed of the random kill points: DL_FAULT_SEED, else fixed (printed either way; the
// property must hold whatever the points, the seed only makes a failure easier to replay).
uint64_t FaultSeed() {
  const char* text = std::getenv("DL_FAULT_SEED");
  uint64_t seed = 20261130;
  if (text != nullptr) (void)absl::SimpleAtoi(text, &seed);
  std::printf("fault seed %llu (set DL_FAULT_SEED to replay)\n",
              static_cast<unsigned long long>(seed));
  return seed;
}

TEST(FaultKillTest, SigkillAtRandomPointsOfAnEpochLosesAndRepeatsNothing) {
  std::vector<BatchDigest> reference;
  {
    ServerProcess server({absl::StrCat("--config=", ConfigFile())});
    grpc::Status status = ReadAll(server.target(), Request("epoch"), reference);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(reference.size(), 150u);
  }

  std::mt19937_64 random(FaultSeed());
  constexpr int kKills = 5;
  std::vector<BatchDigest> received;
  int kills = 0;
  for (int process = 0; process < 2 * kKills + 5; ++process) {
    ServerProcess server({absl::StrCat("--config=", ConfigFile())});
    v1::StreamBatchesRequest request = Request("epoch");
    if (!received.empty()) request.set_resume_token(received.back().resume_token);
    // Kill at a random point of what is left of the epoch (in its next 0.5 s; five of those
    // never reach its end), or not at all once enough kills happened.
    Mutex mu;
    bool stream_ended = false;
    std::thread killer;
    std::atomic<bool> killed{false};
    if (kills < kKills) {
      const absl::Duration delay =
          absl::Milliseconds(std::uniform_int_distribution<int>(0, 500)(random));
      killer = std::thread([&, delay] {
        MutexLock lock(&mu);
        if (!mu.AwaitWithTimeout(absl::Condition(&stream_ended), delay)) {
          kill(server.pid(), SIGKILL);
          killed = true;
        }
      });
    }
    const size_t before = received.size();
    grpc::Status status = ReadAll(server.target(), request, received);
    {
      MutexLock lock(&mu);
      stream_ended = true;
    }
    if (killer.joinable()) killer.join();
    // Each batch continues the last one received, on any process.
    for (size_t i = before; i < received.size(); ++i) {
      ASSERT_EQ(received[i].sequence, i) << "process " << process;
    }
    if (killed) server.Kill();  // Reaps it.
    if (status.ok()) break;     // The epoch's end (a kill after it changes nothing).
    ASSERT_TRUE(killed) << status.error_message();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    ++kills;
  }
  EXPECT_EQ(kills, kKills);
  ASSERT_EQ(received.size(), reference.size());
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_EQ(received[i], reference[i]) << "batch " << i;
  }
}

// --- FaultAbandonedStreamsTest -------------------------------------------------------------

enum class Abandon { kCancel, kCloseConnection, kDeadline, kKillClient };

// One stream of "abandon" that reads a batch and is then abandoned the way `how` says.
void AbandonOne(const std::string& target, Abandon how) {
  if (how == Abandon::kKillClient) {
    Child client = Spawn({DL_CLIENT_BINARY, absl::StrCat("--target=", target),
                          "--pipeline=abandon_slow", "--max_retries=0"});
    ASSERT_GT(client.pid, 0);
    // Mid-stream (its epoch takes ~5 s), SIGKILL: no cancel, no goodbye. (On a loaded machine
    // a client may not have started its stream yet: it is then just a client that died.)
    absl::SleepFor(absl::Milliseconds(500));
    kill(client.pid, SIGKILL);
    WaitForExit(client.pid, absl::Seconds(10));
    close(client.stdout_fd);
    return;
  }
  auto stub = OwnConnectionStub(target);
  auto context = std::make_unique<grpc::ClientContext>();
  if (how == Abandon::kDeadline) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  }
  auto reader = stub->StreamBatches(context.get(), Request("abandon"));
  v1::Batch batch;
  // (A loaded machine may pass the deadline before the first batch: abandoned all the same.)
  EXPECT_TRUE(reader->Read(&batch) || how == Abandon::kDeadline);
  switch (how) {
    case Abandon::kCancel:
      context->TryCancel();
      while (reader->Read(&batch)) {
      }
      EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
      break;
    case Abandon::kCloseConnection:
      // Gone without Finish: the call, its context and its connection are dropped.
      reader.reset();
      context.reset();
      stub.reset();
      break;
    case Abandon::kDeadline: {
      // Stops reading; the deadline passes mid-stream.
      absl::SleepFor(absl::Milliseconds(220));
      while (reader->Read(&batch)) {
      }
      EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
      break;
    }
    case Abandon::kKillClient:
      break;
  }
}

// `count` streams, a third each cancelled, closed and timed out, but every tenth a killed
// client process; 8 at once.
void AbandonMany(const std::string& target, int count) {
  std::vector<std::thread> threads;
  std::atomic<int> next{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < count;) {
        // Client processes are slow to start: one in ten.
        const Abandon how = i % 10 == 9 ? Abandon::kKillClient : static_cast<Abandon>(i % 3);
        AbandonOne(target, how);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

// Once every stream has ended: active streams 0 and as many ended as started. The scrape.
std::string AwaitStreamsEnded(int metrics_port) {
  std::string scrape;
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  do {
    absl::SleepFor(absl::Milliseconds(50));
    scrape = HttpGet(metrics_port, "/metrics");
  } while ((MetricSum(scrape, "dataloader_streams_active") != 0 ||
            MetricSum(scrape, "dataloader_streams_started_total") !=
                MetricSum(scrape, "dataloader_streams_finished_total")) &&
           absl::Now() < give_up);
  return scrape;
}

TEST(FaultAbandonedStreamsTest, AThousandAbandonedStreamsLeaveThreadsFdsAndMemoryFlat) {
  // Its log (two lines a stream) goes to a file.
  ServerProcess server({absl::StrCat("--config=", ConfigFile()), "--metrics_address=127.0.0.1:0",
                        "--max_streams=64"},
                       (FreshDirectory("abandoned_streams") / "server.log").string());
  ASSERT_NE(server.metrics_port(), 0);
  // Warm up (gRPC's and the allocator's pools reach their working size), then measure.
  AbandonMany(server.target(), 100);
  AwaitStreamsEnded(server.metrics_port());
  const ProcessResources warm = ReadProcessResources(server.pid());

  AbandonMany(server.target(), 1000);
  const std::string scrape = AwaitStreamsEnded(server.metrics_port());
  const ProcessResources after = ReadProcessResources(server.pid());
  const double started = MetricSum(scrape, "dataloader_streams_started_total");
  std::cout << "after 100 abandoned streams: " << warm << "\nafter 1,100: " << after << " ("
            << started << " streams got as far as starting)" << std::endl;

  // Every stream that started has ended: none is left behind holding a slot or a pipeline.
  EXPECT_EQ(MetricSum(scrape, "dataloader_streams_active"), 0) << scrape;
  EXPECT_EQ(MetricSum(scrape, "dataloader_streams_finished_total"), started);
  // Most got as far as a stream (a client process killed early, or a deadline that passes
  // before the call arrives, on a loaded machine or in the slow sanitizer builds, does not).
  EXPECT_GE(started, 800);
  // Flat: a leaked thread, connection or stream per abandoned stream would show by the
  // hundred; what is left is the pools' own give (a few threads, an allocator arena).
  EXPECT_LE(after.threads, warm.threads + 4) << "warm: " << warm << "; after: " << after;
  EXPECT_LE(after.open_fds, warm.open_fds + 8) << "warm: " << warm << "; after: " << after;
  EXPECT_LE(after.rss_kib, warm.rss_kib + 24 * 1024) << "warm: " << warm << "; after: " << after;

  // And it still serves.
  v1::StreamBatchesRequest request = Request("abandon");
  request.set_max_batches(3);
  std::vector<BatchDigest> received;
  EXPECT_TRUE(ReadAll(server.target(), request, received).ok());
  EXPECT_EQ(received.size(), 3u);
}

// --- FaultAdmissionTest --------------------------------------------------------------------

// A stream that read its first batch and waits for Resume() to read the rest.
class HeldStream {
 public:
  HeldStream(const std::string& target, const v1::StreamBatchesRequest& request)
      : stub_(OwnConnectionStub(target)) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    reader_ = stub_->StreamBatches(&context_, request);
    v1::Batch batch;
    if (reader_->Read(&batch)) received_.push_back(Digest(batch));
  }
  size_t first_batches() const { return received_.size(); }
  // Reads to the end; the status.
  grpc::Status Resume() {
    v1::Batch batch;
    while (reader_->Read(&batch)) received_.push_back(Digest(batch));
    return reader_->Finish();
  }
  const std::vector<BatchDigest>& received() const { return received_; }

 private:
  std::unique_ptr<v1::DataLoader::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::Batch>> reader_;
  std::vector<BatchDigest> received_;
};

void ExpectWholeStream(const std::vector<BatchDigest>& received, size_t batches) {
  ASSERT_EQ(received.size(), batches);
  for (size_t i = 0; i < received.size(); ++i) ASSERT_EQ(received[i].sequence, i);
}

TEST(FaultAdmissionTest, MaxStreamsStreamsAllProgressAndOneMoreIsRefused) {
  constexpr int kMaxStreams = 4;
  ServerProcess server(
      {absl::StrCat("--config=", ConfigFile()), absl::StrCat("--max_streams=", kMaxStreams)});
  v1::StreamBatchesRequest request = Request("mib");
  request.set_max_batches(48);
  std::vector<std::unique_ptr<HeldStream>> held;
  for (int i = 0; i < kMaxStreams; ++i) {
    held.push_back(std::make_unique<HeldStream>(server.target(), request));
    ASSERT_EQ(held.back()->first_batches(), 1u) << "stream " << i;
  }
  std::vector<BatchDigest> none;
  grpc::Status refused = ReadAll(server.target(), request, none);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("serves at most 4 at once"));
  EXPECT_TRUE(none.empty());

  // All of them go on to their end, at once.
  std::vector<std::thread> readers;
  std::vector<grpc::Status> statuses(kMaxStreams);
  for (int i = 0; i < kMaxStreams; ++i) {
    readers.emplace_back([&, i] { statuses[i] = held[i]->Resume(); });
  }
  for (std::thread& reader : readers) reader.join();
  for (int i = 0; i < kMaxStreams; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    ExpectWholeStream(held[i]->received(), 48);
  }
  // Their slots are free: a new stream is admitted at once.
  request.set_max_batches(2);
  std::vector<BatchDigest> admitted;
  EXPECT_TRUE(ReadAll(server.target(), request, admitted).ok());
  EXPECT_EQ(admitted.size(), 2u);
}

// --- FaultStalledReaderTest ----------------------------------------------------------------

TEST(FaultStalledReaderTest, StalledReadersBesideAFastOneStayBoundedAndLoseNothing) {
  ServerProcess server({absl::StrCat("--config=", ConfigFile())});
  const ProcessResources idle = ReadProcessResources(server.pid());
  // Three readers take one batch of their 128 MiB epoch and stop, each on its own connection.
  v1::StreamBatchesRequest request = Request("mib");
  std::vector<std::unique_ptr<HeldStream>> stalled;
  for (int i = 0; i < 3; ++i) {
    stalled.push_back(std::make_unique<HeldStream>(server.target(), request));
    ASSERT_EQ(stalled.back()->first_batches(), 1u);
  }
  // Beside them, one reads a whole epoch as fast as it can.
  std::vector<BatchDigest> fast;
  const grpc::Status status = ReadAll(server.target(), request, fast);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectWholeStream(fast, 128);
  // The stalled streams hold what their bounded queues and gRPC's windows take: tens of MiB
  // at most, where buffering their epochs would take 384 MiB.
  const ProcessResources busy = ReadProcessResources(server.pid());
  std::printf("idle: %lld MiB resident; with 3 stalled streams after a fast epoch: %lld MiB\n",
              static_cast<long long>(idle.rss_kib / 1024),
              static_cast<long long>(busy.rss_kib / 1024));
  EXPECT_LT(busy.rss_kib, idle.rss_kib + 96 * 1024) << "idle: " << idle << "; busy: " << busy;

  // Once they read again, each gets every batch, in order.
  for (std::unique_ptr<HeldStream>& stream : stalled) {
    const grpc::Status resumed = stream->Resume();
    EXPECT_TRUE(resumed.ok()) << resumed.error_message();
    ExpectWholeStream(stream->received(), 128);
    for (size_t i = 0; i < fast.size(); ++i) {
      ASSERT_EQ(stream->received()[i], fast[i]) << "batch " << i;
    }
  }
}

}  // namespace
}  // namespace dataloader::testing
