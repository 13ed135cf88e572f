// Copyright 2026 The dataloader Authors.
//
// The Prometheus endpoint end to end: a real DataLoaderServer reporting to ServerMetrics on
// 127.0.0.1:0, streams over gRPC, and scrapes of /metrics over plain HTTP (POSIX sockets),
// checking that the values move as the streams do.
#include "server/service/metrics.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/server/service/in_process_server.h"

namespace dataloader::server {
namespace {

constexpr char kConfig[] = R"pb(
  pipelines {
    name: "fast"
    synthetic { num_samples: 64 height: 4 width: 5 channels: 3 num_classes: 7 }
    stages { op: "random_brightness" concurrency: 2 }
    stages {
      op: "normalize"
      args { key: "mean" value: "0.5" }
      concurrency: 2
    }
    batch_size: 8
  }
  pipelines {
    # 5 ms per sample, one at a time: 20 ms per batch, far slower than a loopback client.
    name: "slow_pipeline"
    synthetic { num_samples: 40 height: 4 width: 5 channels: 3 num_classes: 7 }
    stages {
      op: "latency"
      args { key: "millis" value: "5" }
      concurrency: 1
    }
    batch_size: 4
  }
  pipelines {
    # 3 MiB float batches, made in a few ms: more than gRPC's flow-control windows hold, so a
    # client that reads slowly holds up the writes.
    name: "big"
    synthetic { num_samples: 40 height: 256 width: 256 channels: 3 num_classes: 7 }
    stages {
      op: "normalize"
      args { key: "mean" value: "0.5" }
      concurrency: 2
    }
    batch_size: 4
  }
  pipelines {
    name: "big_slow_client"  # As "big", for the stall test's own counters.
    synthetic { num_samples: 40 height: 256 width: 256 channels: 3 num_classes: 7 }
    stages {
      op: "normalize"
      args { key: "mean" value: "0.5" }
      concurrency: 2
    }
    batch_size: 4
  }
)pb";

// A DataLoaderServer with its Prometheus endpoint, both on free loopback ports.
class MetricsServer {
 public:
  MetricsServer()
      : server_(kConfig, 0, {.threads = 2, .metrics_address = "127.0.0.1:0", .log_streams = false}),
        stub_(server_.Stub()) {}

  int metrics_port() { return server_.server().metrics_port(); }
  v1::DataLoader::Stub& stub() { return *stub_; }

 private:
  dataloader::testing::InProcessServer server_;
  std::unique_ptr<v1::DataLoader::Stub> stub_;
};

// GET http://127.0.0.1:`port``path` with HTTP/1.0 (no chunking, the server closes); the body,
// or a failure naming what went wrong. Every socket call is bounded by a 5 s timeout.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    ADD_FAILURE() << "socket() failed";
    return "";
  }
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ADD_FAILURE() << "cannot connect to the metrics endpoint on 127.0.0.1:" << port;
  } else {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      ADD_FAILURE() << "cannot send the HTTP request";
    }
    char buffer[16384];
    ssize_t n = 0;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
    if (n < 0) ADD_FAILURE() << "reading the HTTP response failed or timed out";
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || body == std::string::npos ||
      response.find(" 200 ") > response.find("\r\n")) {
    ADD_FAILURE() << "not an HTTP 200 response: " << response.substr(0, 200);
    return "";
  }
  return response.substr(body + 4);
}

// One scrape, parsed from the text exposition format (no timestamps, as prometheus-cpp writes).
class Scrape {
 public:
  explicit Scrape(int port) : text_(HttpGet(port, "/metrics")) {
    for (absl::string_view line : absl::StrSplit(text_, '\n')) {
      if (line.empty() || line[0] == '#') continue;
      Series series;
      const size_t brace = line.find('{');
      const size_t space = line.rfind(' ');
      if (space == absl::string_view::npos) {
        ADD_FAILURE() << "not a sample line: " << line;
        continue;
      }
      series.name = std::string(line.substr(0, std::min(brace, space)));
      if (brace != absl::string_view::npos) {
        const size_t close = line.rfind('}');
        // Label values here have no commas or escaped quotes.
        for (absl::string_view pair :
             absl::StrSplit(line.substr(brace + 1, close - brace - 1), ',', absl::SkipEmpty())) {
          const size_t equals = pair.find('=');
          series.labels[std::string(pair.substr(0, equals))] =
              std::string(pair.substr(equals + 2, pair.size() - equals - 3));
        }
      }
      const std::string value(line.substr(space + 1));
      series.value = value == "+Inf" ? INFINITY : std::strtod(value.c_str(), nullptr);
      series_.push_back(std::move(series));
    }
  }

  // The sum of the series named `name` whose labels include `labels`; 0 if there is none.
  double Get(const std::string& name, const std::map<std::string, std::string>& labels) const {
    double sum = 0;
    for (const Series& series : series_) {
      if (series.name != name) continue;
      bool match = true;
      for (const auto& [key, value] : labels) {
        auto found = series.labels.find(key);
        match &= found != series.labels.end() && found->second == value;
      }
      if (match) sum += series.value;
    }
    return sum;
  }
  double Get(const std::string& name, const std::string& pipeline) const {
    return Get(name, {{"pipeline", pipeline}});
  }
  const std::string& text() const { return text_; }

 private:
  struct Series {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
  };
  std::string text_;
  std::vector<Series> series_;
};

// A scrape once `pipeline` has no active stream and `finished` streams ended: the client sees
// a stream's status just before the server's reactor reports the end (OnDone).
Scrape AfterStreamsEnd(int port, const std::string& pipeline, int finished) {
  Scrape scrape(port);
  for (int i = 0; i < 200 && (scrape.Get("dataloader_streams_active", pipeline) != 0 ||
                              scrape.Get("dataloader_streams_finished_total", pipeline) < finished);
       ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    scrape = Scrape(port);
  }
  return scrape;
}

// The stage histogram's export to coarser bounds, which the task-time histogram relies on.
TEST(LatencyHistogramTest, CumulativeCountsAtCoarserBounds) {
  LatencyHistogram histogram;
  for (int i = 0; i < 3; ++i) histogram.Record(absl::Milliseconds(1));
  histogram.Record(absl::Milliseconds(100));
  // Bounds within the histogram's resolution (~6%) of a recorded value may go either way.
  EXPECT_EQ(histogram.CumulativeCounts({absl::Microseconds(500), absl::Microseconds(1100),
                                        absl::Milliseconds(90), absl::Seconds(1)}),
            (std::vector<int64_t>{0, 3, 3, 4}));
  EXPECT_EQ(histogram.total(), absl::Milliseconds(103));
  EXPECT_EQ(LatencyHistogram().CumulativeCounts({absl::Seconds(1)}), std::vector<int64_t>{0});
}

TEST(ServerMetricsTest, WorksWithoutAnEndpoint) {
  auto metrics = ServerMetrics::Create({});
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ((*metrics)->port(), 0);
  PipelineStats stats;
  stats.stages.push_back({.name = "decode", .tasks_started = 3, .tasks_succeeded = 2});
  std::unique_ptr<StreamMetrics> stream =
      (*metrics)->StreamStarted("p", [&stats] { return stats; });
  stream->BatchTaken();
  stream->WriteDone(/*ok=*/true, 100);
  stream->End(absl::OkStatus());
  const std::string text = (*metrics)->Render();
  EXPECT_NE(text.find("dataloader_bytes_sent_total{pipeline=\"p\"} 100"), std::string::npos)
      << text;
  EXPECT_NE(text.find("dataloader_stage_tasks_started_total{pipeline=\"p\",stage=\"decode\"} 3"),
            std::string::npos)
      << text;
}

TEST(ServerMetricsTest, NamesTheAddressItCannotListenOn) {
  auto taken = ServerMetrics::Create({.listen_address = "127.0.0.1:0"});
  ASSERT_TRUE(taken.ok()) << taken.status();
  const std::string address = absl::StrCat("127.0.0.1:", (*taken)->port());
  auto again = ServerMetrics::Create({.listen_address = address});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find(address), absl::string_view::npos) << again.status();
  EXPECT_EQ(ServerMetrics::Create({.listen_address = "nonsense"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// One server for the suite: stopping the metrics endpoint (civetweb) takes up to 2 s. Each
// test streams its own pipelines, so the values it checks are its own.
class MetricsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new MetricsServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static MetricsServer* server_;
};
MetricsServer* MetricsTest::server_ = nullptr;

struct Received {
  int64_t batches = 0;
  int64_t bytes = 0;
  grpc::Status status;
};

// Streams `pipeline` to the end, sleeping `pause` before each read (a slow trainer).
Received Stream(v1::DataLoader::Stub& stub, const std::string& pipeline,
                absl::Duration pause = absl::ZeroDuration()) {
  v1::StreamBatchesRequest request;
  request.set_pipeline(pipeline);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = stub.StreamBatches(&context, request);
  Received received;
  v1::Batch batch;
  while (true) {
    absl::SleepFor(pause);
    if (!reader->Read(&batch)) break;
    ++received.batches;
    received.bytes += static_cast<int64_t>(batch.ByteSizeLong());
  }
  received.status = reader->Finish();
  return received;
}

TEST_F(MetricsTest, CountsStreamsBatchesBytesAndStageTasks) {
  MetricsServer& server = *server_;
  const Scrape before(server.metrics_port());
  EXPECT_EQ(before.Get("dataloader_streams_started_total", "fast"), 0);
  EXPECT_EQ(before.Get("dataloader_stage_tasks_started_total", "fast"), 0);

  const Received received = Stream(server.stub(), "fast");
  ASSERT_TRUE(received.status.ok()) << received.status.error_message();
  ASSERT_EQ(received.batches, 8);

  const Scrape after = AfterStreamsEnd(server.metrics_port(), "fast", 1);
  SCOPED_TRACE(after.text());
  EXPECT_EQ(after.Get("dataloader_streams_started_total", "fast"), 1);
  EXPECT_EQ(after.Get("dataloader_streams_finished_total", {{"pipeline", "fast"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(after.Get("dataloader_streams_active", "fast"), 0);
  EXPECT_EQ(after.Get("dataloader_batches_sent_total", "fast"), received.batches);
  EXPECT_EQ(after.Get("dataloader_bytes_sent_total", "fast"), received.bytes);
  EXPECT_EQ(after.Get("dataloader_stream_duration_seconds_count", "fast"), 1);

  // The stream's final stage stats, kept after it ended. Each op stage runs one task per
  // sample.
  const std::map<std::string, std::string> normalize = {{"pipeline", "fast"},
                                                        {"stage", "normalize"}};
  EXPECT_EQ(after.Get("dataloader_stage_tasks_started_total", normalize), 64);
  EXPECT_EQ(after.Get("dataloader_stage_tasks_succeeded_total", normalize), 64);
  EXPECT_EQ(after.Get("dataloader_stage_tasks_failed_total", normalize), 0);
  EXPECT_EQ(after.Get("dataloader_stage_tasks_in_flight", normalize), 0);
  EXPECT_EQ(after.Get("dataloader_stage_task_duration_seconds_count", normalize), 64);
  EXPECT_GT(after.Get("dataloader_stage_task_duration_seconds_sum", normalize), 0);
  std::map<std::string, std::string> all = normalize;
  all["le"] = "+Inf";
  EXPECT_EQ(after.Get("dataloader_stage_task_duration_seconds_bucket", all), 64);
  all["le"] = "0.01";  // Normalizing 60 bytes takes microseconds.
  EXPECT_EQ(after.Get("dataloader_stage_task_duration_seconds_bucket", all), 64);
  EXPECT_GT(after.Get("dataloader_stage_tasks_started_total",
                      {{"pipeline", "fast"}, {"stage", "random_brightness"}}),
            0);

  // Stall attribution covers the stream's life, and no more.
  const double wait_pipeline = after.Get("dataloader_stream_wait_pipeline_seconds_total", "fast");
  const double wait_client = after.Get("dataloader_stream_wait_client_seconds_total", "fast");
  const double duration = after.Get("dataloader_stream_duration_seconds_sum", "fast");
  EXPECT_GT(wait_pipeline, 0);
  EXPECT_GT(wait_client, 0);
  EXPECT_LE(wait_pipeline + wait_client, duration + 0.005);
  EXPECT_GE(wait_pipeline + wait_client, duration * 0.9);
}

TEST_F(MetricsTest, CountsRefusedStreamsByCodeWithoutThePipelineName) {
  MetricsServer& server = *server_;
  const Received received = Stream(server.stub(), "made_up_by_the_client");
  EXPECT_EQ(received.status.error_code(), grpc::StatusCode::NOT_FOUND);
  const Scrape scrape(server.metrics_port());
  EXPECT_EQ(scrape.Get("dataloader_streams_refused_total", {{"code", "NOT_FOUND"}}), 1);
  EXPECT_EQ(scrape.text().find("made_up_by_the_client"), std::string::npos) << scrape.text();
}

TEST_F(MetricsTest, LiveStreamsShowUpAndCountersNeverGoBack) {
  MetricsServer& server = *server_;
  v1::StreamBatchesRequest request;
  request.set_pipeline("big");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = server.stub().StreamBatches(&context, request);
  v1::Batch batch;
  ASSERT_TRUE(reader->Read(&batch));
  absl::SleepFor(absl::Milliseconds(200));  // The pipeline fills its buffers behind the client.

  const Scrape live(server.metrics_port());
  SCOPED_TRACE(live.text());
  EXPECT_EQ(live.Get("dataloader_streams_active", "big"), 1);
  EXPECT_EQ(live.Get("dataloader_streams_finished_total", "big"), 0);
  const std::map<std::string, std::string> normalize = {{"pipeline", "big"},
                                                        {"stage", "normalize"}};
  const double started_live = live.Get("dataloader_stage_tasks_started_total", normalize);
  EXPECT_GT(started_live, 0);
  EXPECT_GT(live.Get("dataloader_stage_queue_capacity", "big"), 0);
  // The client stopped reading: the pipeline's queues hold batches' worth of samples.
  EXPECT_GT(live.Get("dataloader_stage_queue_items", "big"), 0);

  while (reader->Read(&batch)) {
  }
  ASSERT_TRUE(reader->Finish().ok());
  const Scrape after = AfterStreamsEnd(server.metrics_port(), "big", 1);
  EXPECT_EQ(after.Get("dataloader_streams_active", "big"), 0);
  EXPECT_EQ(after.Get("dataloader_stage_tasks_started_total", normalize), 40);
  EXPECT_GE(after.Get("dataloader_stage_tasks_started_total", normalize), started_live);
  EXPECT_EQ(after.Get("dataloader_stage_queue_items", "big"), 0);
  EXPECT_EQ(after.Get("dataloader_batches_sent_total", "big"), 10);
}

TEST_F(MetricsTest, StallAttributionBlamesTheSlowSide) {
  MetricsServer& server = *server_;
  // A slow trainer on a fast pipeline: the writes wait on the client.
  const Received slow_client = Stream(server.stub(), "big_slow_client", absl::Milliseconds(60));
  ASSERT_TRUE(slow_client.status.ok()) << slow_client.status.error_message();
  // A fast trainer on a slow pipeline: the stream waits on the pipeline.
  const Received slow_pipeline = Stream(server.stub(), "slow_pipeline");
  ASSERT_TRUE(slow_pipeline.status.ok()) << slow_pipeline.status.error_message();
  AfterStreamsEnd(server.metrics_port(), "big_slow_client", 1);
  const Scrape scrape = AfterStreamsEnd(server.metrics_port(), "slow_pipeline", 1);
  SCOPED_TRACE(scrape.text());
  const double big_pipeline =
      scrape.Get("dataloader_stream_wait_pipeline_seconds_total", "big_slow_client");
  const double big_client =
      scrape.Get("dataloader_stream_wait_client_seconds_total", "big_slow_client");
  std::printf("slow client: %.3f s on the pipeline, %.3f s on the client\n", big_pipeline,
              big_client);
  EXPECT_GT(big_client, 3 * big_pipeline)
      << "pipeline " << big_pipeline << " s, client " << big_client << " s";
  const double slow_pipeline_wait =
      scrape.Get("dataloader_stream_wait_pipeline_seconds_total", "slow_pipeline");
  const double slow_client_wait =
      scrape.Get("dataloader_stream_wait_client_seconds_total", "slow_pipeline");
  std::printf("slow pipeline: %.3f s on the pipeline, %.3f s on the client\n", slow_pipeline_wait,
              slow_client_wait);
  EXPECT_GT(slow_pipeline_wait, 3 * slow_client_wait)
      << "pipeline " << slow_pipeline_wait << " s, client " << slow_client_wait << " s";
  // 10 batches of 4 samples at 5 ms each, one at a time.
  EXPECT_GT(slow_pipeline_wait, 0.15);
}

}  // namespace
}  // namespace dataloader::server
