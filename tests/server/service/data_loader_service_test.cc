// Copyright 2026 The dataloader Authors.
//
// The service end to end over gRPC on 127.0.0.1, with a real server and client stub.
#include "server/service/data_loader_service.h"

#include <grpcpp/grpcpp.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/mutex.h"
#include "core/runtime.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/ops/builtin_ops.h"
#include "server/pipeline/epoch_plan.h"
#include "server/pipeline/synthetic_dataset.h"
#include "server/service/data_loader_server.h"
#include "server/service/resume_token.h"
#include "server/service/server_config.h"
#include "tests/server/ops/test_ops.h"
#include "tests/server/service/in_process_server.h"
#include "tests/server/service/raw_call.h"

namespace dataloader::server {
namespace {

using ::testing::HasSubstr;

constexpr char kConfig[] = R"pb(
  pipelines {
    name: "small"
    synthetic { num_samples: 103 height: 4 width: 5 channels: 3 num_classes: 7 }
    stages { op: "random_brightness" concurrency: 2 }
    stages {
      op: "latency"
      args { key: "millis" value: "0.2" }
      concurrency: 8
    }
    stages {
      op: "normalize"
      args { key: "mean" value: "0.5" }
      concurrency: 2
    }
    batch_size: 8
  }
  pipelines {
    name: "broken"
    synthetic { num_samples: 100 }
    stages {
      name: "every_other"
      op: "fail_every"
      args { key: "every" value: "2" }
    }
    batch_size: 8
    max_failures: 20
  }
)pb";

// A server with kConfig's pipelines on a free loopback port.
class TestServer : public dataloader::testing::InProcessServer {
 public:
  TestServer()
      : InProcessServer(
            kConfig, 0,
            {.ops = &dataloader::testing::TestOps(), .threads = 2, .log_streams = false}) {}
};

struct StreamResult {
  std::vector<v1::Batch> batches;
  grpc::Status status;
};

StreamResult Stream(v1::DataLoader::Stub& stub, const v1::StreamBatchesRequest& request,
                    int cancel_after = -1) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = stub.StreamBatches(&context, request);
  StreamResult result;
  v1::Batch batch;
  while (reader->Read(&batch)) {
    result.batches.push_back(batch);
    if (static_cast<int>(result.batches.size()) == cancel_after) context.TryCancel();
  }
  result.status = reader->Finish();
  return result;
}

v1::StreamBatchesRequest Request(const std::string& pipeline, uint32_t shard = 0,
                                 uint32_t shards = 1) {
  v1::StreamBatchesRequest request;
  request.set_pipeline(pipeline);
  request.set_shard_index(shard);
  request.set_shard_count(shards);
  request.set_epoch(2);
  request.set_seed(17);
  return request;
}

bool SameContent(const v1::Batch& a, const v1::Batch& b) {
  v1::Batch a_copy = a, b_copy = b;
  a_copy.clear_resume_token();
  b_copy.clear_resume_token();
  return a_copy.SerializeAsString() == b_copy.SerializeAsString();
}

TEST(DataLoaderServiceTest, StreamsEveryBatchOfTheShardInOrder) {
  TestServer server;
  StreamResult result = Stream(*server.Stub(), Request("small", 1, 2));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EpochPlan plan = *EpochPlan::Create({.num_samples = 103,
                                       .batch_size = 8,
                                       .shuffle = true,
                                       .seed = 17,
                                       .epoch = 2,
                                       .shard_index = 1,
                                       .shard_count = 2});
  ASSERT_EQ(static_cast<int64_t>(result.batches.size()), plan.batches());
  for (size_t k = 0; k < result.batches.size(); ++k) {
    const v1::Batch& batch = result.batches[k];
    EXPECT_EQ(batch.sequence(), k);
    EXPECT_EQ(batch.epoch(), 2u);
    EXPECT_EQ(std::vector<int64_t>(batch.sample_ids().begin(), batch.sample_ids().end()),
              plan.BatchSamples(k));
    ASSERT_EQ(batch.tensors_size(), 2);
    EXPECT_EQ(batch.tensors(0).dtype(), v1::DTYPE_FLOAT32);
    EXPECT_EQ(batch.tensors(0).data().size(), batch.sample_ids_size() * 4 * 5 * 3 * 4u);
    EXPECT_FALSE(batch.resume_token().empty());
  }
}

TEST(DataLoaderServiceTest, ResumeOnARestartedServerEqualsTheUninterruptedStream) {
  StreamResult full;
  {
    TestServer first;
    full = Stream(*first.Stub(), Request("small"));
    ASSERT_TRUE(full.status.ok());
  }
  TestServer restarted;
  v1::StreamBatchesRequest resume = Request("small");
  resume.set_resume_token(full.batches[4].resume_token());
  StreamResult rest = Stream(*restarted.Stub(), resume);
  ASSERT_TRUE(rest.status.ok()) << rest.status.error_message();
  ASSERT_EQ(rest.batches.size(), full.batches.size() - 5);
  for (size_t i = 0; i < rest.batches.size(); ++i) {
    EXPECT_TRUE(SameContent(rest.batches[i], full.batches[i + 5])) << "batch " << i + 5;
  }
}

TEST(DataLoaderServiceTest, BadRequestsGetCodesAndMessagesNamingTheValue) {
  TestServer server;
  auto stub = server.Stub();
  grpc::Status unknown = Stream(*stub, Request("nope")).status;
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown.error_message(),
              HasSubstr("unknown pipeline 'nope' (serving: broken, small)"));
  grpc::Status shard = Stream(*stub, Request("small", 2, 2)).status;
  EXPECT_EQ(shard.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(shard.error_message(), HasSubstr("shard_index must be < shard_count (2), got 2"));
  v1::StreamBatchesRequest garbage = Request("small");
  garbage.set_resume_token("not a token");
  grpc::Status bad_token = Stream(*stub, garbage).status;
  EXPECT_EQ(bad_token.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad_token.error_message(), HasSubstr("not a resume token of this service"));
  // A real token, but of another shard.
  v1::StreamBatchesRequest first = Request("small", 0, 2);
  first.set_max_batches(1);
  StreamResult one = Stream(*stub, first);
  ASSERT_EQ(one.batches.size(), 1u);
  v1::StreamBatchesRequest other = Request("small", 1, 2);
  other.set_resume_token(one.batches[0].resume_token());
  grpc::Status mismatch = Stream(*stub, other).status;
  EXPECT_EQ(mismatch.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(mismatch.error_message(), HasSubstr("was issued for pipeline 'small' shard 0/2"));
}

TEST(DataLoaderServiceTest, StageBeyondItsBudgetEndsTheStreamWithAborted) {
  TestServer server;
  StreamResult result = Stream(*server.Stub(), Request("broken"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("21 items failed (max_failures 20"));
  EXPECT_THAT(result.status.error_message(), HasSubstr("every_other"));
  EXPECT_THAT(result.status.error_message(), HasSubstr("is corrupt"));
}

TEST(DataLoaderServiceTest, MaxBatchesAndCancelEndTheStreamAndFreeIt) {
  TestServer server;
  auto stub = server.Stub();
  v1::StreamBatchesRequest limited = Request("small");
  limited.set_max_batches(3);
  StreamResult three = Stream(*stub, limited);
  EXPECT_TRUE(three.status.ok());
  EXPECT_EQ(three.batches.size(), 3u);
  StreamResult cancelled = Stream(*stub, Request("small"), /*cancel_after=*/2);
  EXPECT_EQ(cancelled.status.error_code(), grpc::StatusCode::CANCELLED);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (server.service().active_streams() != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(server.service().active_streams(), 0);
}

TEST(DataLoaderServiceTest, ListPipelinesDescribesTensorsAndPolicies) {
  TestServer server;
  grpc::ClientContext context;
  v1::ListPipelinesResponse response;
  ASSERT_TRUE(server.Stub()->ListPipelines(&context, {}, &response).ok());
  ASSERT_EQ(response.pipelines_size(), 2);
  const v1::PipelineInfo& small = response.pipelines(1);
  EXPECT_EQ(small.name(), "small");
  EXPECT_EQ(small.samples_per_epoch(), 103u);
  EXPECT_EQ(small.batch_size(), 8u);
  EXPECT_TRUE(small.exact_order());
  EXPECT_TRUE(small.shuffle());
  ASSERT_EQ(small.tensors_size(), 2);
  EXPECT_EQ(small.tensors(0).name(), "image");
  EXPECT_EQ(small.tensors(0).dtype(), v1::DTYPE_FLOAT32);
  EXPECT_EQ(std::vector<int64_t>(small.tensors(0).shape().begin(), small.tensors(0).shape().end()),
            (std::vector<int64_t>{8, 4, 5, 3}));
  EXPECT_EQ(small.tensors(1).dtype(), v1::DTYPE_INT64);
  EXPECT_GE(small.max_batch_bytes(), 8u * (4 * 5 * 3 * 4 + 8));
  EXPECT_EQ(small.remainder_policy(), v1::REMAINDER_POLICY_DROP);
}

TEST(DataLoaderServiceTest, StalledClientStallsOnlyItsOwnBoundedPipeline) {
  // 512 batches of 1 MiB in the epoch.
  dataloader::testing::InProcessServer server(R"pb(
    pipelines {
      name: "mib"
      synthetic { num_samples: 2048 height: 256 width: 256 channels: 4 }
      batch_size: 4
      shuffle: false
      sink_buffer: 2
    }
  )pb");
  auto stub = server.Stub();
  grpc::ClientContext stalled;
  auto reader = stub->StreamBatches(&stalled, Request("mib"));
  v1::Batch batch;
  ASSERT_TRUE(reader->Read(&batch));  // Then stop reading.

  // Items (samples and end-of-batch markers) the stalled stream's "load" stage has taken, once
  // it comes to rest.
  auto loaded = [&]() -> int64_t {
    std::vector<PipelineStats> streams = server.service().StreamStats();
    return streams.size() == 1 ? streams[0].stages[1].items_in : -1;  // Stage 1: "load".
  };
  int64_t at_rest = -1;
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  for (int64_t previous = -2; absl::Now() < give_up; previous = at_rest) {
    absl::SleepFor(absl::Milliseconds(200));
    at_rest = loaded();
    if (at_rest == previous) break;
  }
  // It stops: its own buffers plus what gRPC's flow control takes, far short of the epoch
  // (2048 samples). Nothing grows while the client does not read.
  EXPECT_GT(at_rest, 0);
  EXPECT_LT(at_rest, 4 * 64) << "loaded " << at_rest << " samples for a client that read 1 batch";

  // Only this stream stalls: another one on the same server runs meanwhile.
  v1::StreamBatchesRequest other = Request("mib");
  other.set_max_batches(20);
  StreamResult result = Stream(*stub, other);
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.batches.size(), 20u);
  const absl::Time other_gone = absl::Now() + absl::Seconds(10);
  while (server.service().StreamStats().size() != 1 && absl::Now() < other_gone) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  // Still bounded. (It may have moved a little: the two streams share one HTTP/2 connection,
  // whose flow-control window the other stream's reads reopen.)
  EXPECT_LT(loaded(), 4 * 64);

  stalled.TryCancel();
  while (reader->Read(&batch)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (server.service().active_streams() != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(server.service().active_streams(), 0);
}

TEST(DataLoaderServiceTest, HealthTurnsNotServingOnDrainAndNewStreamsAreRefused) {
  // "mib": 512 batches of 1 MiB, more than gRPC's windows hold: a stream whose client stops
  // reading stays open (a small stream would be sent whole and end, and the drain with it).
  dataloader::testing::InProcessServer server(
      R"pb(
        pipelines {
          name: "mib"
          synthetic { num_samples: 2048 height: 256 width: 256 channels: 4 }
          batch_size: 4
          shuffle: false
        }
        pipelines {
          name: "small"
          synthetic { num_samples: 16 height: 4 width: 5 channels: 3 }
          batch_size: 8
        }
      )pb",
      0, {.ops = &dataloader::testing::TestOps(), .threads = 2, .log_streams = false});
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", server.port()), grpc::InsecureChannelCredentials()));
  auto check = [&](const std::string& service) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = health->Check(&context, request, &response);
    EXPECT_TRUE(status.ok()) << service << ": " << status.error_message();
    return response.status();
  };
  // The names data_loader.proto promises.
  EXPECT_EQ(check(""), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(check("dataloader.v1.DataLoader"), grpc::health::v1::HealthCheckResponse::SERVING);

  // A stream that stops reading keeps the drain going until its deadline.
  auto stub = server.Stub();
  grpc::ClientContext stalled;
  auto reader = stub->StreamBatches(&stalled, Request("mib"));
  v1::Batch batch;
  ASSERT_TRUE(reader->Read(&batch));
  std::thread drainer([&] { server.Drain(absl::Now() + absl::Seconds(2)); });
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (check("") == grpc::health::v1::HealthCheckResponse::SERVING && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(check(""), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(check("dataloader.v1.DataLoader"), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  // Whoever sees NOT_SERVING is refused too, and told to go elsewhere.
  StreamResult refused = Stream(*stub, Request("small"));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.status.error_message(), HasSubstr("server is shutting down"));
  stalled.TryCancel();
  while (reader->Read(&batch)) {
  }
  reader->Finish();
  drainer.join();
}

TEST(DataLoaderServiceTest, SixtyFourMiBBatchesStreamIntact) {
  // 16 samples of 1024 x 1024 x 4 uint8 = 64 MiB of image per batch.
  dataloader::testing::InProcessServer server(R"pb(
    pipelines {
      name: "huge"
      synthetic { num_samples: 32 height: 1024 width: 1024 channels: 4 num_classes: 3 }
      batch_size: 16
      shuffle: false
      sink_buffer: 1
    }
  )pb");
  StreamResult result = Stream(*server.Stub(), Request("huge"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.batches.size(), 2u);
  auto dataset = *SyntheticImageDataset::Create(
      {.num_samples = 32, .height = 1024, .width = 1024, .channels = 4, .num_classes = 3});
  for (const v1::Batch& batch : result.batches) {
    const v1::Tensor& image = batch.tensors(0);
    ASSERT_EQ(image.data().size(), 64u << 20);
    EXPECT_EQ(std::vector<int64_t>(image.shape().begin(), image.shape().end()),
              (std::vector<int64_t>{16, 1024, 1024, 4}));
    // Every sample's bytes arrived unchanged, in place.
    for (int i = 0; i < 16; ++i) {
      const int64_t id = batch.sample_ids(i);
      absl::StatusOr<Sample> expected = dataset.Load(id, 0);
      ASSERT_TRUE(expected.ok());
      const std::vector<uint8_t>& pixels = expected->tensors[0].data;
      EXPECT_EQ(0, std::memcmp(image.data().data() + static_cast<size_t>(i) * pixels.size(),
                               pixels.data(), pixels.size()))
          << "sample " << id;
    }
  }
}

}  // namespace
}  // namespace dataloader::server

namespace dataloader::server {
namespace {

// 25 batches of 4 samples, each sample waiting 10 ms (one at a time): ~1 s a stream.
constexpr char kSlowConfig[] = R"pb(
  pipelines {
    name: "slow"
    synthetic { num_samples: 100 height: 2 width: 2 channels: 1 }
    stages {
      op: "latency"
      args { key: "millis" value: "10" }
      concurrency: 1
    }
    batch_size: 4
    shuffle: false
  }
)pb";

TEST(DrainTest, StreamsPastTheDeadlineEndUnavailableAndResumeElsewhere) {
  dataloader::testing::InProcessServer draining(kSlowConfig), other(kSlowConfig);
  v1::StreamBatchesRequest request;
  request.set_pipeline("slow");
  std::vector<v1::Batch> received;
  grpc::Status status;
  {
    auto stub = draining.Stub();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto reader = stub->StreamBatches(&context, request);
    v1::Batch batch;
    while (received.size() < 3 && reader->Read(&batch)) received.push_back(batch);
    ASSERT_EQ(received.size(), 3u);
    int ended = -1;
    std::thread drainer([&] { ended = draining.Drain(absl::Now() + absl::Milliseconds(100)); });
    while (reader->Read(&batch)) received.push_back(batch);
    status = reader->Finish();
    drainer.join();
    EXPECT_EQ(ended, 1);
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("drain deadline passed"));
  ASSERT_LT(received.size(), 25u);

  // The drained server no longer listens: new streams fail with UNAVAILABLE too.
  StreamResult refused = Stream(*draining.Stub(), request);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE);

  // Another replica continues from the last token: nothing lost, nothing repeated.
  request.set_resume_token(received.back().resume_token());
  StreamResult rest = Stream(*other.Stub(), request);
  ASSERT_TRUE(rest.status.ok()) << rest.status.error_message();
  ASSERT_EQ(received.size() + rest.batches.size(), 25u);
  for (size_t i = 0; i < rest.batches.size(); ++i) {
    EXPECT_EQ(rest.batches[i].sequence(), received.size() + i);
  }
}

TEST(DrainTest, StreamsThatFinishInTimeEndOk) {
  dataloader::testing::InProcessServer server(kSlowConfig);
  v1::StreamBatchesRequest request;
  request.set_pipeline("slow");
  int ended = -1;
  StreamResult result;
  std::thread client([&] { result = Stream(*server.Stub(), request); });
  // Drain once the stream is running; it has 20 s, far more than the ~1 s it needs.
  while (server.service().active_streams() == 0) absl::SleepFor(absl::Milliseconds(1));
  ended = server.Drain(absl::Now() + absl::Seconds(20));
  client.join();
  EXPECT_EQ(ended, 0);
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.batches.size(), 25u);
}

}  // namespace
}  // namespace dataloader::server

namespace dataloader::server {
namespace {

// Hardening: what a hostile or unlucky client does to a server, and what it must not do to
// other streams.

using ::dataloader::testing::InProcessServer;
using ::dataloader::testing::RawCall;

// An op that blocks (as a stuck read would) until the test releases it, at most 30 s.
struct StuckOpControl {
  Mutex mu;
  bool entered ABSL_GUARDED_BY(mu) = false;
  bool released ABSL_GUARDED_BY(mu) = false;
};
StuckOpControl& Stuck() {
  static StuckOpControl* const control = new StuckOpControl();
  return *control;
}

class StuckOp final : public Op {
 public:
  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    MutexLock lock(&Stuck().mu);
    Stuck().entered = true;
    Stuck().mu.AwaitWithTimeout(absl::Condition(&Stuck().released), absl::Seconds(30));
    return sample;
  }
};

const OpRegistry& OpsWithAStuckOne() {
  static const OpRegistry* const ops = [] {
    auto* made = new OpRegistry();
    EXPECT_TRUE(RegisterBuiltinOps(*made).ok());
    EXPECT_TRUE(
        made->Register({.name = "stuck",
                        .summary = "blocks until the test releases it",
                        .factory = [](const OpArgs&) -> absl::StatusOr<std::unique_ptr<Op>> {
                          return std::make_unique<StuckOp>();
                        }})
            .ok());
    return made;
  }();
  return *ops;
}

constexpr char kIsolationConfig[] = R"pb(
  pipelines {
    name: "small"
    synthetic { num_samples: 103 height: 4 width: 5 channels: 3 num_classes: 7 }
    batch_size: 8
  }
  pipelines {
    name: "stuck"
    synthetic { num_samples: 100 height: 2 width: 2 channels: 1 }
    stages { op: "stuck" concurrency: 1 }  # One pool thread stuck at most: the others serve.
    batch_size: 4
  }
  pipelines {
    # 512 batches of 1 MiB: more than gRPC's windows hold, so a client that stops reading
    # keeps its stream (and its slot) open.
    name: "mib"
    synthetic { num_samples: 2048 height: 256 width: 256 channels: 4 }
    batch_size: 4
    shuffle: false
  }
)pb";

// Made after the probe of "stuck" (which the op lets through until `armed`).
class IsolationServer {
 public:
  IsolationServer()
      : server_(
            kIsolationConfig, 0,
            {.ops = &OpsWithAStuckOne(), .threads = 2, .max_streams = 1, .log_streams = false}) {
    MutexLock lock(&Stuck().mu);
    Stuck().entered = false;
    Stuck().released = false;
  }
  ~IsolationServer() { Release(); }
  void Release() {
    MutexLock lock(&Stuck().mu);
    Stuck().released = true;
  }
  bool AwaitStuck() {
    MutexLock lock(&Stuck().mu);
    return Stuck().mu.AwaitWithTimeout(absl::Condition(&Stuck().entered), absl::Seconds(10));
  }
  InProcessServer& server() { return server_; }

 private:
  InProcessServer server_;
};

// The probe runs the stuck op too: let it through while the server starts.
struct ReleasedForTheProbe {
  ReleasedForTheProbe() {
    MutexLock lock(&Stuck().mu);
    Stuck().released = true;
  }
};

TEST(StreamIsolationTest, ACancelledStreamWithAStuckStageFreesItsSlotAndFreezesNothing) {
  ReleasedForTheProbe probe;
  IsolationServer isolation;
  InProcessServer& server = isolation.server();
  auto stub = server.Stub();
  grpc::ClientContext stuck_context;
  auto stuck_reader = stub->StreamBatches(&stuck_context, Request("stuck"));
  ASSERT_TRUE(isolation.AwaitStuck());
  stuck_context.TryCancel();
  v1::Batch batch;
  while (stuck_reader->Read(&batch)) {
  }
  EXPECT_EQ(stuck_reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  // The stage call still blocks, yet the server learns of the cancel and frees the one slot
  // (the client's CANCELLED is its own: the server may hear of it a little later) ...
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (server.service().active_streams() != 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(server.service().active_streams(), 0);
  // ... and ListPipelines and other streams are served.
  grpc::ClientContext list_context;
  list_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListPipelinesResponse pipelines;
  EXPECT_TRUE(stub->ListPipelines(&list_context, {}, &pipelines).ok());
  v1::StreamBatchesRequest small = Request("small");
  small.set_max_batches(2);
  StreamResult other = Stream(*stub, small);
  EXPECT_TRUE(other.status.ok()) << other.status.error_message();
  EXPECT_EQ(other.batches.size(), 2u);
}

TEST(StreamIsolationTest, DrainEndsAStreamWhoseStageIsStuck) {
  ReleasedForTheProbe probe;
  IsolationServer isolation;
  InProcessServer& server = isolation.server();
  auto stub = server.Stub();
  grpc::ClientContext context;
  auto reader = stub->StreamBatches(&context, Request("stuck"));
  ASSERT_TRUE(isolation.AwaitStuck());
  const absl::Time start = absl::Now();
  EXPECT_EQ(server.Drain(absl::Now() + absl::Milliseconds(200)), 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));  // Bounded: it did not wait for the stage.
  v1::Batch batch;
  while (reader->Read(&batch)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(StreamIsolationTest, ASlotIsFreeAsSoonAsItsStreamsStatusArrives) {
  ReleasedForTheProbe probe;
  InProcessServer server(
      kIsolationConfig, 0,
      {.ops = &OpsWithAStuckOne(), .threads = 2, .max_streams = 1, .log_streams = false});
  auto stub = server.Stub();
  v1::StreamBatchesRequest one = Request("small");
  one.set_max_batches(1);
  for (int i = 0; i < 30; ++i) {
    StreamResult result = Stream(*stub, one);
    ASSERT_TRUE(result.status.ok()) << "stream " << i << ": " << result.status.error_message();
  }
}

TEST(StreamIsolationTest, BadRequestsAreJudgedBeforeAdmission) {
  ReleasedForTheProbe probe;
  InProcessServer server(
      kIsolationConfig, 0,
      {.ops = &OpsWithAStuckOne(), .threads = 2, .max_streams = 1, .log_streams = false});
  auto stub = server.Stub();
  grpc::ClientContext holder;  // Takes the one slot and stops reading.
  auto reader = stub->StreamBatches(&holder, Request("mib"));
  v1::Batch batch;
  ASSERT_TRUE(reader->Read(&batch));
  EXPECT_EQ(Stream(*stub, Request("small", 2, 2)).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Stream(*stub, Request("nope")).status.error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status full = Stream(*stub, Request("small")).status;
  EXPECT_EQ(full.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(full.error_message(), HasSubstr("serves at most 1 at once"));
  holder.TryCancel();
  while (reader->Read(&batch)) {
  }
  reader->Finish();
}

// Wire-format pieces for hand-made requests.
std::string Varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}
std::string VarintField(int number, uint64_t value) {
  return Varint(static_cast<uint64_t>(number) << 3) + Varint(value);
}
std::string BytesField(int number, const std::string& bytes) {
  return Varint((static_cast<uint64_t>(number) << 3) | 2) + Varint(bytes.size()) + bytes;
}

// A token of the "small" pipeline of kConfig for `request`'s stream, resuming at `next`.
std::string SmallToken(const v1::StreamBatchesRequest& request, int64_t next) {
  v1::ServerConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kConfig, &config));
  auto definitions = ToDefinitions(config, dataloader::testing::TestOps());
  EXPECT_TRUE(definitions.ok()) << definitions.status();
  const PipelineDefinition& small = (*definitions)[0];
  EXPECT_EQ(small.name, "small");
  return ResumeToken({.pipeline = "small",
                      .content = small.config_fingerprint,
                      .shard_index = request.shard_index(),
                      .shard_count = request.shard_count(),
                      .epoch = request.epoch(),
                      .seed = request.seed()},
                     next);
}

// The catalogue of malformed StreamBatches requests (bytes no generated stub sends, or values
// no client should): each gets its code and a message naming the field, before admission and
// without a batch. (Shard mismatches, garbage and foreign tokens, unknown pipelines:
// BadRequestsGetCodesAndMessagesNamingTheValue; huge names: AHugePipelineNameIsNotEchoedWhole.)
TEST(RequestHardeningTest, MalformedRequestsGetInvalidArgumentNamingTheField) {
  TestServer server;
  const std::string stream_method = "/dataloader.v1.DataLoader/StreamBatches";
  const std::string small = BytesField(1, "small");
  const std::string epoch_2 = VarintField(4, 2) + VarintField(5, 17);
  v1::StreamBatchesRequest request = Request("small");  // Shard 0/1, epoch 2, seed 17.
  struct Case {
    std::string bytes;
    grpc::StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {small + VarintField(3, uint64_t{1} << 32), grpc::StatusCode::INVALID_ARGUMENT,
       "shard_count must be < 2^32 (a uint32), got 4294967296"},
      {small + VarintField(2, uint64_t{1} << 40), grpc::StatusCode::INVALID_ARGUMENT,
       "shard_index must be < 2^32"},
      {BytesField(1,
                  "sm\xff\xfe"
                  "all"),
       grpc::StatusCode::INVALID_ARGUMENT, "pipeline must be UTF-8 text, got 7 bytes that are not"},
      {"\xff\xff\xff\xff", grpc::StatusCode::INVALID_ARGUMENT,
       "request is not a dataloader.v1.StreamBatchesRequest: malformed bytes"},
      {small + "\x32\x05"
               "ab",
       grpc::StatusCode::INVALID_ARGUMENT,
       "request is not a dataloader.v1.StreamBatchesRequest: field 'resume_token' "
       "is cut short"},
      // A known field with another wire type: protobuf would keep it as an unknown field and
      // read the request as if it were absent (no pipeline, epoch 0).
      {VarintField(1, 5), grpc::StatusCode::INVALID_ARGUMENT,
       "field 'pipeline' is encoded as a varint, not as a string"},
      {small + BytesField(4, "\x02"), grpc::StatusCode::INVALID_ARGUMENT,
       "field 'epoch' is encoded as length-delimited bytes, not as a uint64"},
      {small + Varint((7 << 3) | 1) + std::string(8, '\x01'), grpc::StatusCode::INVALID_ARGUMENT,
       "field 'max_batches' is encoded as 8 fixed bytes, not as a uint64"},
      {small + Varint((9 << 3) | 3), grpc::StatusCode::INVALID_ARGUMENT,
       "request is not a dataloader.v1.StreamBatchesRequest: malformed bytes"},
      {small + Varint(4 << 3) + "\x80", grpc::StatusCode::INVALID_ARGUMENT,
       "field 'epoch' is cut short"},
      // shard_count 0 means 1.
      {small + VarintField(2, 1), grpc::StatusCode::INVALID_ARGUMENT,
       "shard_index must be < shard_count (1), got 1"},
      {"", grpc::StatusCode::NOT_FOUND, "unknown pipeline '' (serving: broken, small)"},
      // Tokens in the service's format, with a good checksum, that no server with this config
      // issued: past the epoch's 13 batches, and past int64.
      {small + epoch_2 + BytesField(6, SmallToken(request, 14)), grpc::StatusCode::INVALID_ARGUMENT,
       "resume_token resumes at batch 14, past the end of this shard's epoch (13 batches)"},
      {small + epoch_2 + BytesField(6, SmallToken(request, -1)), grpc::StatusCode::INVALID_ARGUMENT,
       "resume_token is not a resume token of this service"},
  };
  for (const Case& each : cases) {
    testing::RawCallResult result = RawCall(server.target(), stream_method, each.bytes);
    EXPECT_EQ(result.status.error_code(), each.code) << each.message;
    EXPECT_THAT(result.status.error_message(), HasSubstr(each.message));
    EXPECT_TRUE(result.responses.empty());
  }
  // The token at the epoch's end itself is fine: an empty stream.
  testing::RawCallResult end = RawCall(server.target(), stream_method,
                                       small + epoch_2 + BytesField(6, SmallToken(request, 13)));
  EXPECT_TRUE(end.status.ok()) << end.status.error_message();
  EXPECT_TRUE(end.responses.empty());

  testing::RawCallResult list =
      RawCall(server.target(), "/dataloader.v1.DataLoader/ListPipelines", "\xff\xff");
  EXPECT_EQ(list.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(list.status.error_message(),
              HasSubstr("request is not a dataloader.v1.ListPipelinesRequest"));
}

TEST(RequestHardeningTest, AHugePipelineNameIsNotEchoedWhole) {
  TestServer server;
  grpc::Status status = Stream(*server.Stub(), Request(std::string(100 * 1024, 'x'))).status;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LT(status.error_message().size(), 400u);
  EXPECT_THAT(status.error_message(), HasSubstr("(102400 bytes)"));
  EXPECT_THAT(status.error_message(), HasSubstr("serving: broken, small"));
}

TEST(RequestHardeningTest, MaxBatchesPastInt64MeansToTheEndAndNeverEndsEarly) {
  TestServer server;
  auto stub = server.Stub();
  for (uint64_t max : {uint64_t{1} << 63, ~uint64_t{0}}) {
    v1::StreamBatchesRequest request = Request("small");
    request.set_max_batches(max);
    StreamResult result = Stream(*stub, request);
    ASSERT_TRUE(result.status.ok()) << max << ": " << result.status.error_message();
    EXPECT_EQ(result.batches.size(), 13u) << max;
  }
  StreamResult full = Stream(*stub, Request("small"));
  ASSERT_EQ(full.batches.size(), 13u);
  v1::StreamBatchesRequest resume = Request("small");
  resume.set_resume_token(full.batches[4].resume_token());
  resume.set_max_batches((uint64_t{1} << 63) - 1);  // start + max overflowed int64 before.
  StreamResult rest = Stream(*stub, resume);
  ASSERT_TRUE(rest.status.ok()) << rest.status.error_message();
  ASSERT_EQ(rest.batches.size(), 8u);
  EXPECT_EQ(rest.batches.front().sequence(), 5u);
}

TEST(RequestHardeningTest, TheProbeSkipsFailedSamplesAndRefusesAPipelineWithNoGoodOne) {
  TestServer server;  // "broken": sample 0 fails, sample 1 does not.
  grpc::ClientContext context;
  v1::ListPipelinesResponse response;
  ASSERT_TRUE(server.Stub()->ListPipelines(&context, {}, &response).ok());
  const v1::PipelineInfo& broken = response.pipelines(0);
  ASSERT_EQ(broken.name(), "broken");
  ASSERT_EQ(broken.tensors_size(), 2);
  EXPECT_EQ(broken.tensors(0).name(), "image");
  EXPECT_GE(broken.max_batch_bytes(), 8u * (32 * 32 * 3 + 8));

  v1::ServerConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
                                                              pipelines {
                                                                name: "hopeless"
                                                                synthetic { num_samples: 500 }
                                                                stages {
                                                                  op: "fail_every"
                                                                  args { key: "every" value: "1" }
                                                                }
                                                                batch_size: 8
                                                              }
                                                            )pb",
                                                            &config));
  auto refused = DataLoaderServer::Start({.address = "127.0.0.1:0",
                                          .config = config,
                                          .ops = &dataloader::testing::TestOps(),
                                          .threads = 2,
                                          .log_streams = false});
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(),
              HasSubstr("pipeline 'hopeless' cannot serve: none of its first 64 samples could be "
                        "processed"));
  // Stages run in completion order: any of the 64 may be the one that exhausted the budget.
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::ContainsRegex("sample [0-9]+ is corrupt"));
}

// Regression (issue 10, defect 6): a sample whose tensors do not stack with the others used to
// fail its whole batch in collate, and the stream skipped that sequence number yet ended OK.
// Now it fails alone, counted against the budget, and every sequence number is sent.
TEST(RequestHardeningTest, ASampleThatDoesNotStackFailsAloneAndEverySequenceIsSent) {
  // Samples 0, 7, 14, ... lose a row: sample 0 among them, so the probe must not take the
  // first good sample as every batch's model.
  dataloader::testing::InProcessServer server(
      R"pb(
        pipelines {
          name: "ragged"
          synthetic { num_samples: 40 height: 4 width: 5 channels: 3 }
          stages {
            op: "shrink_every"
            args { key: "every" value: "7" }
          }
          batch_size: 8
          shuffle: false
        }
        pipelines {
          name: "strict"
          synthetic { num_samples: 40 height: 4 width: 5 channels: 3 }
          stages {
            op: "shrink_every"
            args { key: "every" value: "7" }
          }
          batch_size: 8
          shuffle: false
          max_failures: 2
        }
      )pb",
      0, {.ops = &dataloader::testing::TestOps(), .threads = 2, .log_streams = false});
  auto stub = server.Stub();
  StreamResult ragged = Stream(*stub, Request("ragged"));
  ASSERT_TRUE(ragged.status.ok()) << ragged.status.error_message();
  ASSERT_EQ(ragged.batches.size(), 5u);
  std::vector<int64_t> received;
  for (size_t i = 0; i < ragged.batches.size(); ++i) {
    const v1::Batch& batch = ragged.batches[i];
    EXPECT_EQ(batch.sequence(), i);
    ASSERT_EQ(batch.tensors(0).shape(1), 4u) << "batch " << i;  // The common height.
    EXPECT_EQ(batch.tensors(0).shape(0), static_cast<uint64_t>(batch.sample_ids_size()));
    received.insert(received.end(), batch.sample_ids().begin(), batch.sample_ids().end());
  }
  std::vector<int64_t> expected;
  for (int64_t i = 0; i < 40; ++i) {
    if (i % 7 != 0) expected.push_back(i);
  }
  EXPECT_EQ(received, expected);

  // Six samples do not stack; a budget of two ends the stream, naming why.
  StreamResult strict = Stream(*stub, Request("strict"));
  EXPECT_EQ(strict.status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(strict.status.error_message(), HasSubstr("does not stack"));
}

}  // namespace
}  // namespace dataloader::server
