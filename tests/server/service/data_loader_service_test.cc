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
#include "core/runtime.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/pipeline/epoch_plan.h"
#include "server/pipeline/synthetic_dataset.h"
#include "server/service/server_config.h"
#include "tests/server/service/in_process_server.h"

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
      name: "bad_normalize"
      op: "normalize"
      args { key: "tensor" value: "label" }
    }
    batch_size: 8
    max_failures: 20
  }
)pb";

// A server with kConfig's pipelines on a free loopback port.
class TestServer : public dataloader::testing::InProcessServer {
 public:
  TestServer() : InProcessServer(kConfig) {}
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
  EXPECT_THAT(result.status.error_message(), HasSubstr("bad_normalize"));
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

TEST(DataLoaderServiceTest, HealthServiceReportsServingThenNotServing) {
  TestServer server;
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
  server.SetServing(false);
  EXPECT_EQ(check(""), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(check("dataloader.v1.DataLoader"), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
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

  // The draining server refuses new streams, with UNAVAILABLE too.
  StreamResult refused = Stream(*draining.Stub(), request);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.status.error_message(), HasSubstr("server is shutting down"));

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
