// Copyright 2026 The dataloader Authors.
//
// The client library against an in-process DataLoaderService on 127.0.0.1, and the
// dataloader_client binary against a dataloader_server subprocess.
#include "client/batch_stream.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/list_pipelines.h"
#include "client/tensor_view.h"
#include "core/runtime.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/service/data_loader_service.h"
#include "server/service/server_config.h"
#include "tests/client/subprocess.h"
#include "tests/server/ops/test_ops.h"
#include "tests/server/service/in_process_server.h"

namespace dataloader::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kConfig[] = R"pb(
  pipelines {
    name: "small"
    synthetic { num_samples: 103 height: 4 width: 5 channels: 3 num_classes: 7 }
    stages {
      op: "normalize"
      args { key: "mean" value: "0.5" }
      concurrency: 2
    }
    batch_size: 8
  }
  pipelines {
    # 60 batches of 384 KiB: far more than the prefetch buffers and HTTP/2 windows hold, so a
    # server shut down after a few batches leaves most of the stream to a reconnect.
    name: "big"
    synthetic { num_samples: 480 height: 64 width: 64 channels: 3 num_classes: 10 }
    stages { op: "normalize" concurrency: 2 }
    batch_size: 8
  }
  pipelines {
    name: "broken"
    synthetic { num_samples: 100 }
    # 5 ms a sample, one at a time: the 21st failure (about the 42nd sample) comes ~100 ms
    # after the first batches, which must reach the client before the error.
    stages {
      op: "latency"
      args { key: "millis" value: "5" }
      concurrency: 1
    }
    stages {
      name: "every_other"
      op: "fail_every"
      args { key: "every" value: "2" }
    }
    batch_size: 8
    max_failures: 20
  }
)pb";

// A server with kConfig's pipelines on 127.0.0.1:`port` (0: a free port).
class TestServer : public dataloader::testing::InProcessServer {
 public:
  explicit TestServer(int port = 0)
      : InProcessServer(
            kConfig, port,
            {.ops = &dataloader::testing::TestOps(), .threads = 2, .log_streams = false}) {}
};

v1::StreamBatchesRequest Request(const std::string& pipeline) {
  v1::StreamBatchesRequest request;
  request.set_pipeline(pipeline);
  request.set_epoch(3);
  request.set_seed(11);
  return request;
}

struct Drained {
  std::vector<v1::Batch> batches;
  absl::Status status;  // OK at the clean end.
};

// Reads `stream` to its end or failure (at most `limit` batches).
Drained Drain(BatchStream& stream, size_t limit = SIZE_MAX) {
  Drained result;
  while (result.batches.size() < limit) {
    absl::StatusOr<std::optional<v1::Batch>> next = stream.Next();
    if (!next.ok()) {
      result.status = next.status();
      break;
    }
    if (!next->has_value()) break;
    result.batches.push_back(**std::move(next));
  }
  return result;
}

std::vector<int64_t> SampleIds(const v1::Batch& batch) {
  return {batch.sample_ids().begin(), batch.sample_ids().end()};
}

TEST(BatchStreamTest, StreamsTheWholeShardInOrderThenEndsWithNullopt) {
  TestServer server;
  auto stream = BatchStream::Open({.target = server.target(), .prefetch = 2}, Request("small"));
  ASSERT_TRUE(stream.ok()) << stream.status();
  Drained drained = Drain(**stream);
  ASSERT_TRUE(drained.status.ok()) << drained.status;
  ASSERT_EQ(drained.batches.size(), 13u);  // ceil(103 / 8)
  int64_t samples = 0;
  for (size_t i = 0; i < drained.batches.size(); ++i) {
    EXPECT_EQ(drained.batches[i].sequence(), i);
    EXPECT_EQ(drained.batches[i].epoch(), 3u);
    samples += drained.batches[i].sample_ids_size();
  }
  EXPECT_EQ(samples, 103);
  EXPECT_EQ(drained.batches.back().sample_ids_size(), 103 % 8);
  // The end is sticky.
  absl::StatusOr<std::optional<v1::Batch>> again = (*stream)->Next();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ((*stream)->reconnects(), 0);
  EXPECT_EQ((*stream)->resume_token(), drained.batches.back().resume_token());
}

TEST(BatchStreamTest, MaxBatchesAndResumeTokenBoundAndContinueTheStream) {
  TestServer server;
  v1::StreamBatchesRequest first = Request("small");
  first.set_max_batches(4);
  auto head = BatchStream::Open({.target = server.target()}, first);
  ASSERT_TRUE(head.ok());
  Drained drained_head = Drain(**head);
  ASSERT_TRUE(drained_head.status.ok());
  ASSERT_EQ(drained_head.batches.size(), 4u);

  v1::StreamBatchesRequest rest = Request("small");
  rest.set_resume_token((*head)->resume_token());
  auto tail = BatchStream::Open({.target = server.target()}, rest);
  ASSERT_TRUE(tail.ok());
  Drained drained_tail = Drain(**tail);
  ASSERT_TRUE(drained_tail.status.ok());
  ASSERT_EQ(drained_tail.batches.size(), 9u);
  EXPECT_EQ(drained_tail.batches.front().sequence(), 4u);
}

TEST(BatchStreamTest, TensorViewsOfReceivedBatchesHaveTheirShapes) {
  TestServer server;
  auto stream = BatchStream::Open({.target = server.target()}, Request("small"));
  ASSERT_TRUE(stream.ok());
  absl::StatusOr<std::optional<v1::Batch>> batch = (*stream)->Next();
  ASSERT_TRUE(batch.ok() && batch->has_value());
  const v1::Batch& b = **batch;
  ASSERT_EQ(b.tensors_size(), 2);
  absl::StatusOr<absl::Span<const float>> image = TensorView<float>(b.tensors(0));
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->size(), 8u * 4 * 5 * 3);
  EXPECT_EQ(static_cast<const void*>(image->data()), b.tensors(0).data().data());  // No copy.
  absl::StatusOr<absl::Span<const int64_t>> labels = TensorView<int64_t>(b.tensors(1));
  ASSERT_TRUE(labels.ok()) << labels.status();
  ASSERT_EQ(labels->size(), 8u);
  for (int64_t label : *labels) {
    EXPECT_GE(label, 0);
    EXPECT_LT(label, 7);
  }
  absl::StatusOr<absl::Span<const double>> wrong = TensorView<double>(b.tensors(0));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong.status().message()),
              HasSubstr("tensor 'image' has dtype FLOAT32, cannot view it as FLOAT64"));
}

v1::Tensor MakeTensor(v1::DType dtype, std::vector<int64_t> shape, size_t bytes) {
  v1::Tensor tensor;
  tensor.set_name("x");
  tensor.set_dtype(dtype);
  for (int64_t dim : shape) tensor.add_shape(dim);
  tensor.set_data(std::string(bytes, '\0'));
  return tensor;
}

TEST(TensorViewTest, MatchingTypeAndSizeGiveAViewOfEveryElement) {
  v1::Tensor tensor = MakeTensor(v1::DTYPE_INT32, {2, 3}, 24);
  int32_t values[6] = {1, -2, 3, -4, 5, -6};
  tensor.set_data(std::string(reinterpret_cast<const char*>(values), sizeof(values)));
  absl::StatusOr<absl::Span<const int32_t>> view = TensorView<int32_t>(tensor);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_THAT(*view, ElementsAre(1, -2, 3, -4, 5, -6));
  EXPECT_TRUE(TensorView<uint8_t>(MakeTensor(v1::DTYPE_UINT8, {0, 5}, 0)).ok());
  EXPECT_TRUE(TensorView<bool>(MakeTensor(v1::DTYPE_BOOL, {}, 1)).ok());  // A scalar.
  EXPECT_TRUE(TensorView<BFloat16>(MakeTensor(v1::DTYPE_BFLOAT16, {4}, 8)).ok());
}

TEST(TensorViewTest, MismatchesNameTheTensorDtypeAndSizes) {
  absl::Status wrong_type = TensorView<int64_t>(MakeTensor(v1::DTYPE_FLOAT32, {2, 3}, 24)).status();
  EXPECT_EQ(wrong_type.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong_type.message()),
              HasSubstr("tensor 'x' has dtype FLOAT32, cannot view it as INT64"));

  absl::Status short_data = TensorView<float>(MakeTensor(v1::DTYPE_FLOAT32, {2, 3}, 20)).status();
  EXPECT_EQ(short_data.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(short_data.message()),
              HasSubstr("tensor 'x' (FLOAT32, shape [2, 3]) has 20 bytes of data, expected 24"));

  absl::Status negative = CheckTensor(MakeTensor(v1::DTYPE_UINT8, {-1, 3}, 0));
  EXPECT_THAT(std::string(negative.message()), HasSubstr("negative dimension"));
  absl::Status huge = CheckTensor(MakeTensor(v1::DTYPE_INT64, {1LL << 40, 1LL << 40}, 0));
  EXPECT_THAT(std::string(huge.message()), HasSubstr("too large"));
  absl::Status unknown = CheckTensor(MakeTensor(v1::DTYPE_UNSPECIFIED, {1}, 1));
  EXPECT_THAT(std::string(unknown.message()), HasSubstr("UNSPECIFIED"));
}

// Found by tests/fuzz/client_batch_fuzzer: a BOOL tensor's bytes are 0 or 1 by the contract, and
// a view of any other byte as bool is undefined behaviour in the trainer.
TEST(TensorViewTest, ABoolViewRefusesBytesOtherThanZeroAndOne) {
  v1::Tensor mask = MakeTensor(v1::DTYPE_BOOL, {3}, 3);
  mask.set_data(std::string("\x01\x00\x01", 3));
  absl::StatusOr<absl::Span<const bool>> view = TensorView<bool>(mask);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_THAT(*view, ElementsAre(true, false, true));
  mask.set_data(std::string("\x00\x01\x02", 3));
  absl::Status two = TensorView<bool>(mask).status();
  EXPECT_EQ(two.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(two.message()),
              HasSubstr("tensor 'x' (BOOL) holds 2 at element 2; BOOL elements are 0 or 1"));
  EXPECT_TRUE(CheckTensor(mask).ok());  // Its shape and size are fine: only the view is refused.
}

TEST(BatchStreamTest, ResumesAcrossAServerRestartOnTheSamePort) {
  // The uninterrupted stream, for reference.
  std::vector<v1::Batch> full;
  {
    TestServer reference;
    auto stream = BatchStream::Open({.target = reference.target()}, Request("big"));
    ASSERT_TRUE(stream.ok());
    Drained drained = Drain(**stream);
    ASSERT_TRUE(drained.status.ok()) << drained.status;
    full = std::move(drained.batches);
  }
  ASSERT_EQ(full.size(), 60u);

  auto first = std::make_unique<TestServer>();
  const int port = first->port();
  // Generous retries with short waits: the restart below takes a moment, and retries only
  // bound the test's duration if something is broken.
  auto stream = BatchStream::Open({.target = first->target(),
                                   .max_retries = 100,
                                   .initial_backoff = absl::Milliseconds(5),
                                   .max_backoff = absl::Milliseconds(100),
                                   .prefetch = 2},
                                  Request("big"));
  ASSERT_TRUE(stream.ok());
  Drained before = Drain(**stream, 3);
  ASSERT_TRUE(before.status.ok()) << before.status;
  ASSERT_EQ(before.batches.size(), 3u);
  first->Shutdown();
  first.reset();
  TestServer second(port);
  ASSERT_EQ(second.port(), port);
  Drained after = Drain(**stream);
  ASSERT_TRUE(after.status.ok()) << after.status;
  EXPECT_GE((*stream)->reconnects(), 1);

  std::vector<v1::Batch> seen = std::move(before.batches);
  for (v1::Batch& batch : after.batches) seen.push_back(std::move(batch));
  ASSERT_EQ(seen.size(), full.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].sequence(), i);
    EXPECT_EQ(SampleIds(seen[i]), SampleIds(full[i])) << "batch " << i;
  }
}

TEST(BatchStreamTest, UnknownPipelineIsReturnedNotRetried) {
  TestServer server;
  auto stream = BatchStream::Open({.target = server.target(),
                                   .max_retries = 5,
                                   .initial_backoff = absl::Seconds(30),
                                   .max_backoff = absl::Seconds(30)},
                                  Request("nope"));
  ASSERT_TRUE(stream.ok());
  absl::StatusOr<std::optional<v1::Batch>> next = (*stream)->Next();
  EXPECT_EQ(next.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(next.status().message()), HasSubstr("unknown pipeline 'nope'"));
  EXPECT_EQ((*stream)->reconnects(), 0);
  EXPECT_EQ((*stream)->Next().status().code(), absl::StatusCode::kNotFound);  // Sticky.
}

TEST(BatchStreamTest, ServerErrorMidStreamComesAfterTheBatchesBeforeIt) {
  TestServer server;
  auto stream = BatchStream::Open({.target = server.target()}, Request("broken"));
  ASSERT_TRUE(stream.ok());
  Drained drained = Drain(**stream);
  EXPECT_EQ(drained.status.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(drained.status.message()), HasSubstr("every_other"));
  EXPECT_EQ((*stream)->reconnects(), 0);
  EXPECT_GT(drained.batches.size(), 0u);  // Half the samples fail: the budget ends it mid-way.
  for (size_t i = 0; i < drained.batches.size(); ++i) EXPECT_EQ(drained.batches[i].sequence(), i);
}

TEST(BatchStreamTest, UnreachableServerGivesUnavailableAfterTheRetries) {
  int port = 0;
  {
    TestServer gone;
    port = gone.port();
  }
  auto stream = BatchStream::Open({.target = absl::StrCat("127.0.0.1:", port),
                                   .max_retries = 2,
                                   .initial_backoff = absl::Milliseconds(1),
                                   .max_backoff = absl::Milliseconds(2)},
                                  Request("small"));
  ASSERT_TRUE(stream.ok());
  absl::StatusOr<std::optional<v1::Batch>> next = (*stream)->Next();
  EXPECT_EQ(next.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(next.status().message()), HasSubstr("gave up after 2 reconnect"));
  EXPECT_EQ((*stream)->reconnects(), 2);
}

// A server whose one stream slot is taken answers RESOURCE_EXHAUSTED; the .proto says to
// retry with backoff, and the client does until the slot frees.
TEST(BatchStreamTest, ResourceExhaustedIsRetriedWithBackoffUntilASlotFrees) {
  testing::ServerProcess server({"--max_streams=1"});
  v1::StreamBatchesRequest request;
  request.set_pipeline("synthetic");
  auto holder = BatchStream::Open({.target = server.target(), .prefetch = 1}, request);
  ASSERT_TRUE(holder.ok());
  ASSERT_TRUE((*holder)->Next().ok());  // The slot is taken for the rest of the epoch.
  request.set_max_batches(3);
  auto waiter = BatchStream::Open({.target = server.target(),
                                   .max_retries = 1000,
                                   .initial_backoff = absl::Milliseconds(10),
                                   .max_backoff = absl::Milliseconds(50)},
                                  request);
  ASSERT_TRUE(waiter.ok());
  for (int i = 0; i < 1000 && (*waiter)->reconnects() < 3; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_GE((*waiter)->reconnects(), 3) << "the waiter was never refused";
  holder->reset();  // Cancels the holder's stream: its slot frees.
  Drained drained = Drain(**waiter);
  ASSERT_TRUE(drained.status.ok()) << drained.status;
  ASSERT_EQ(drained.batches.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(drained.batches[i].sequence(), i);
}

TEST(BatchStreamTest, ResourceExhaustedGivesUpAfterTheRetries) {
  testing::ServerProcess server({"--max_streams=1"});
  v1::StreamBatchesRequest request;
  request.set_pipeline("synthetic");
  auto holder = BatchStream::Open({.target = server.target(), .prefetch = 1}, request);
  ASSERT_TRUE(holder.ok());
  ASSERT_TRUE((*holder)->Next().ok());
  auto refused = BatchStream::Open({.target = server.target(),
                                    .max_retries = 2,
                                    .initial_backoff = absl::Milliseconds(1),
                                    .max_backoff = absl::Milliseconds(2)},
                                   request);
  ASSERT_TRUE(refused.ok());
  absl::StatusOr<std::optional<v1::Batch>> next = (*refused)->Next();
  EXPECT_EQ(next.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(next.status().message()), HasSubstr("gave up after 2 reconnect"));
  EXPECT_EQ((*refused)->reconnects(), 2);
}

TEST(BatchStreamTest, CancelBeforeDuringAndAfterStreaming) {
  TestServer server;
  {
    auto stream = BatchStream::Open({.target = server.target()}, Request("big"));
    ASSERT_TRUE(stream.ok());
    (*stream)->Cancel();
    EXPECT_EQ((*stream)->Next().status().code(), absl::StatusCode::kCancelled);
  }
  {
    auto stream = BatchStream::Open({.target = server.target(), .prefetch = 1}, Request("big"));
    ASSERT_TRUE(stream.ok());
    ASSERT_EQ(Drain(**stream, 2).batches.size(), 2u);
    (*stream)->Cancel();
    EXPECT_EQ((*stream)->Next().status().code(), absl::StatusCode::kCancelled);
    EXPECT_EQ((*stream)->reconnects(), 0);
  }
  {
    v1::StreamBatchesRequest request = Request("small");
    request.set_max_batches(2);
    auto stream = BatchStream::Open({.target = server.target()}, request);
    ASSERT_TRUE(stream.ok());
    ASSERT_TRUE(Drain(**stream).status.ok());
    (*stream)->Cancel();
    EXPECT_EQ((*stream)->Next().status().code(), absl::StatusCode::kCancelled);
  }
  // Destroyed while the reader is blocked on a full buffer: the destructor must not hang.
  auto stream = BatchStream::Open({.target = server.target(), .prefetch = 1}, Request("big"));
  ASSERT_TRUE(stream.ok());
  ASSERT_EQ(Drain(**stream, 1).batches.size(), 1u);
  stream->reset();
}

TEST(BatchStreamTest, OpenValidatesOptionsAndRequest) {
  EXPECT_EQ(BatchStream::Open({.target = ""}, Request("small")).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status prefetch =
      BatchStream::Open({.target = "x:1", .prefetch = 0}, Request("small")).status();
  EXPECT_THAT(std::string(prefetch.message()), HasSubstr("prefetch must be >= 1, got 0"));
  EXPECT_EQ(BatchStream::Open({.target = "x:1"}, Request("")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ListPipelinesTest, DescribesEveryPipelineSortedByName) {
  TestServer server;
  auto pipelines = ListPipelines(server.target());
  ASSERT_TRUE(pipelines.ok()) << pipelines.status();
  ASSERT_EQ(pipelines->size(), 3u);
  EXPECT_EQ((*pipelines)[0].name(), "big");
  EXPECT_EQ((*pipelines)[2].name(), "small");
  EXPECT_EQ((*pipelines)[2].batch_size(), 8u);
}

using testing::RunResult;
using testing::RunToExit;
using testing::ServerProcess;

// SIGTERM with a stream running past the drain deadline (--shutdown_grace_seconds=1): the
// stream ends UNAVAILABLE (so clients resume elsewhere) and the server exits 0.
TEST(ClientBinaryTest, SigtermDrainsEndsLateStreamsUnavailableAndExitsZero) {
  ServerProcess server;
  auto stub = v1::DataLoader::NewStub(
      grpc::CreateCustomChannel(server.target(), grpc::InsecureChannelCredentials(), [] {
        grpc::ChannelArguments args;
        args.SetMaxReceiveMessageSize(-1);
        return args;
      }()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::StreamBatchesRequest request;
  request.set_pipeline("synthetic");
  auto reader = stub->StreamBatches(&context, request);
  v1::Batch batch;
  ASSERT_TRUE(reader->Read(&batch));
  int exit_code = -2;
  std::thread terminator([&] { exit_code = server.Terminate(); });
  // While it drains, the server reports NOT_SERVING (so balancers and probes stop sending).
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials()));
  grpc::health::v1::HealthCheckResponse::ServingStatus serving =
      grpc::health::v1::HealthCheckResponse::SERVING;
  for (int attempt = 0; attempt < 200 && serving == grpc::health::v1::HealthCheckResponse::SERVING;
       ++attempt) {
    grpc::ClientContext health_context;
    health_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    grpc::health::v1::HealthCheckResponse response;
    if (health->Check(&health_context, {}, &response).ok()) serving = response.status();
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_EQ(serving, grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  int batches = 1;
  // A slow reader: 313 batches at 20 ms each outlast the 1 s drain deadline.
  while (reader->Read(&batch)) {
    ++batches;
    absl::SleepFor(absl::Milliseconds(20));
  }
  const grpc::Status status = reader->Finish();
  terminator.join();
  EXPECT_LT(batches, 313);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("resume on another replica"));
  EXPECT_EQ(exit_code, 0);
}

TEST(ClientBinaryTest, ListPrintsThePipelines) {
  ServerProcess server;
  RunResult run = RunToExit({DL_CLIENT_BINARY, "--list", "--target=" + server.target()});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("synthetic\n"));
  EXPECT_THAT(run.output, HasSubstr("samples_per_epoch: 10000  batch_size: 32"));
  EXPECT_THAT(run.output, HasSubstr("exact_order: true"));
  EXPECT_THAT(run.output, HasSubstr("tensor image: FLOAT32 [32, 3, 128, 128]"));
  EXPECT_THAT(run.output, HasSubstr("tensor label: INT64 [32]"));
}

TEST(ClientBinaryTest, JsonVerifiedRunAndAFailingRun) {
  ServerProcess server;
  RunResult run = RunToExit(
      {DL_CLIENT_BINARY, "--target=" + server.target(), "--max_batches=3", "--json", "--verify"});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("\"batches\": 3, \"samples\": 96, \"bytes\": 18875136"));
  EXPECT_THAT(run.output, HasSubstr("\"verified\": true, \"status\": \"OK\"}"));
  EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;

  RunResult missing =
      RunToExit({DL_CLIENT_BINARY, "--target=" + server.target(), "--pipeline=nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("NOT_FOUND: unknown pipeline 'nope'"));
}

// (The message goes to stderr, which RunToExit does not capture; the log shows it.)
TEST(ClientBinaryTest, BadFlagsExitWithTheUsageCode) {
  RunResult unknown = RunToExit({DL_CLIENT_BINARY, "--no_such_flag=1"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  RunResult bad_value = RunToExit({DL_CLIENT_BINARY, "--max_batches=many"});
  EXPECT_EQ(bad_value.exit_code, 2) << bad_value.output;
  RunResult missing_value = RunToExit({DL_CLIENT_BINARY, "--target"});
  EXPECT_EQ(missing_value.exit_code, 2) << missing_value.output;
  RunResult positional = RunToExit({DL_CLIENT_BINARY, "stray"});
  EXPECT_EQ(positional.exit_code, 2) << positional.output;
}

// A batch whose every sample failed is well-formed on the wire, but --verify must not call a
// stream that loses whole batches OK.
TEST(ClientBinaryTest, VerifyFailsOnAnEmptyBatch) {
  // Batches of one sample in dataset order; every even sample fails: batch 0 is empty.
  dataloader::testing::InProcessServer server(
      R"pb(
        pipelines {
          name: "holes"
          synthetic { num_samples: 8 height: 2 width: 2 channels: 1 }
          stages {
            op: "fail_every"
            args { key: "every" value: "2" }
          }
          batch_size: 1
          shuffle: false
        }
      )pb",
      0, {.ops = &dataloader::testing::TestOps(), .threads = 2, .log_streams = false});
  RunResult run =
      RunToExit({DL_CLIENT_BINARY, "--target=" + server.target(), "--pipeline=holes", "--verify"});
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_THAT(run.output, HasSubstr("batch 0: empty: every sample of the batch failed"));
}

}  // namespace
}  // namespace dataloader::client
