// Copyright 2026 The dataloader Authors.
//
// Remote pipelines end to end (without gRPC): read_url against a real S3 API server (s3rver)
// and a fault-injecting HTTP server, through the image ops to collated batches. The epoch from
// an S3 prefix equals the epoch from the same files in a local folder, byte for byte; missing
// objects fail their samples; a store that goes away ends the stream UNAVAILABLE; cancel aborts
// the transfers in flight.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/file_dataset.h"
#include "server/pipeline/remote_dataset.h"
#include "server/pipeline/stream_pipeline.h"
#include "tests/server/io/s3rver.h"
#include "tests/server/io/test_http_server.h"
#include "tests/server/ops/test_ops.h"

namespace dataloader::server {
namespace {

namespace fs = std::filesystem;
using ::dataloader::server::testing::S3rver;
using ::dataloader::server::testing::TestHttpServer;
using ::testing::HasSubstr;

const fs::path kFixtures = fs::path(DL_TEST_DATA_DIR) / "images";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

io::ObjectStoreOptions FastStore(std::optional<io::S3Options> s3 = std::nullopt) {
  io::ObjectStoreOptions options;
  options.http.retry = {.max_attempts = 3,
                        .initial_backoff = absl::Milliseconds(5),
                        .max_backoff = absl::Milliseconds(20)};
  options.s3 = std::move(s3);
  return options;
}

// The decode and resize stages every pipeline here shares: batches need equal shapes.
std::vector<StageDefinition> DecodeStages() {
  return {{.op = "decode_image", .concurrency = 2},
          {.op = "resize", .args = {{"size", "12,16"}}, .concurrency = 2}};
}

class RemotePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/remote_pipeline_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    // A stream's pipeline lives on in its cancelled requests' callbacks; holding the stores
    // until those have run makes this thread, not a store's own I/O thread, release them.
    for (const std::shared_ptr<io::ObjectStore>& store : stores_) {
      for (int i = 0; i < 2000 && store->http().Stats().in_flight > 0; ++i) {
        absl::SleepFor(absl::Milliseconds(5));
      }
      EXPECT_EQ(store->http().Stats().in_flight, 0);
    }
    stores_.clear();
    fs::remove_all(dir_);
  }

  std::vector<CollatedBatch> Stream(const PipelineDefinition& definition,
                                    const StreamRequest& request, absl::Status* end) {
    auto pipeline =
        BuildStreamPipeline(definition, request, *runtime_, dataloader::testing::BuiltinOps());
    EXPECT_TRUE(pipeline.ok()) << pipeline.status();
    std::vector<CollatedBatch> batches;
    if (!pipeline.ok()) return batches;
    while (true) {
      absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(absl::Seconds(60));
      if (!batch.ok()) {
        *end = batch.status();
        return batches;
      }
      batches.push_back(*std::move(batch));
    }
  }

  std::shared_ptr<io::ObjectStore> MakeStore(io::ObjectStoreOptions options) {
    absl::StatusOr<std::shared_ptr<io::ObjectStore>> store = io::ObjectStore::Create(options);
    EXPECT_TRUE(store.ok()) << store.status();
    stores_.push_back(*store);
    return *std::move(store);
  }

  std::shared_ptr<RemoteDataset> UrlList(const std::vector<std::string>& urls,
                                         std::shared_ptr<io::ObjectStore> store) {
    const fs::path list = dir_ / "urls.txt";
    std::ofstream out(list);
    for (size_t i = 0; i < urls.size(); ++i) out << urls[i] << " " << i % 3 << "\n";
    out.close();
    auto dataset = RemoteDataset::FromUrlList(list.string(), std::move(store));
    EXPECT_TRUE(dataset.ok()) << dataset.status();
    return *std::move(dataset);
  }

  fs::path dir_;
  std::unique_ptr<Runtime> runtime_ = *Runtime::Create({.num_threads = 2});
  std::vector<std::shared_ptr<io::ObjectStore>> stores_;
};

void ExpectSameBatches(const std::vector<CollatedBatch>& a, const std::vector<CollatedBatch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].sequence, b[i].sequence);
    EXPECT_EQ(a[i].sample_ids, b[i].sample_ids) << "batch " << i;
    ASSERT_EQ(a[i].tensors.size(), b[i].tensors.size());
    for (size_t t = 0; t < a[i].tensors.size(); ++t) {
      EXPECT_EQ(a[i].tensors[t].name, b[i].tensors[t].name);
      EXPECT_EQ(a[i].tensors[t].shape, b[i].tensors[t].shape);
      EXPECT_TRUE(a[i].tensors[t].data == b[i].tensors[t].data)
          << "batch " << i << " tensor " << a[i].tensors[t].name << " differs";
    }
  }
}

TEST_F(RemotePipelineTest, EpochFromAnS3PrefixEqualsTheLocalFolderByteForByte) {
  absl::StatusOr<std::unique_ptr<S3rver>> s3rver = S3rver::Start("data");
  ASSERT_TRUE(s3rver.ok()) << s3rver.status();
  // A folder of every decodable fixture in three classes, and the same files under a prefix.
  const std::vector<std::string> good = {
      "rgb_420.jpg", "rgb_444.jpg", "progressive.jpg", "gray.jpg",    "cmyk.jpg",
      "rgb.png",     "rgba.png",    "gray.png",        "palette.png", "gray16.png"};
  for (int copy = 0; copy < 2; ++copy) {
    for (size_t i = 0; i < good.size(); ++i) {
      const std::string relative = absl::StrCat(i % 3 == 0   ? "cat"
                                                : i % 3 == 1 ? "dog"
                                                             : "dog-like",
                                                "/", copy, "_", good[i]);
      fs::create_directories((dir_ / "folder" / relative).parent_path());
      fs::copy_file(kFixtures / good[i], dir_ / "folder" / relative);
      ASSERT_TRUE(
          (*s3rver)->Put("data", "imagenet/train/" + relative, ReadFile(kFixtures / good[i])).ok());
    }
  }
  auto local_files =
      FileDataset::FromImageFolder((dir_ / "folder").string(), FileDataset::DefaultExtensions());
  ASSERT_TRUE(local_files.ok()) << local_files.status();
  auto remote_files =
      RemoteDataset::FromS3Prefix("data", "imagenet/train", FileDataset::DefaultExtensions(),
                                  MakeStore(FastStore((*s3rver)->Options())));
  ASSERT_TRUE(remote_files.ok()) << remote_files.status();

  std::vector<StageDefinition> local_stages = DecodeStages();
  local_stages.insert(local_stages.begin(), {.op = "read_file", .concurrency = 4});
  std::vector<StageDefinition> remote_stages = DecodeStages();
  remote_stages.insert(remote_stages.begin(), {.op = "read_url", .concurrency = 8});
  const PipelineDefinition local{
      .name = "local", .dataset = *std::move(local_files), .stages = local_stages, .batch_size = 3};
  const PipelineDefinition remote{.name = "remote",
                                  .dataset = *std::move(remote_files),
                                  .stages = remote_stages,
                                  .batch_size = 3};
  ASSERT_TRUE(ValidatePipelineDefinition(local, dataloader::testing::BuiltinOps()).ok());
  ASSERT_TRUE(ValidatePipelineDefinition(remote, dataloader::testing::BuiltinOps()).ok());

  // The whole epoch, shuffled; each of two shards; and a resumed shard.
  for (const StreamRequest& request :
       {StreamRequest{.epoch = 1, .seed = 7}, StreamRequest{.shard_count = 2, .epoch = 1},
        StreamRequest{.shard_index = 1, .shard_count = 2, .epoch = 1},
        StreamRequest{.epoch = 4, .seed = 7, .start_sequence = 3}}) {
    absl::Status local_end, remote_end;
    std::vector<CollatedBatch> from_folder = Stream(local, request, &local_end);
    std::vector<CollatedBatch> from_s3 = Stream(remote, request, &remote_end);
    EXPECT_TRUE(absl::IsOutOfRange(local_end)) << local_end;
    EXPECT_TRUE(absl::IsOutOfRange(remote_end)) << remote_end;
    ASSERT_FALSE(from_folder.empty());
    int64_t samples = 0;
    for (const CollatedBatch& batch : from_s3) samples += batch.sample_ids.size();
    EXPECT_GT(samples, 0);
    ExpectSameBatches(from_folder, from_s3);
  }
}

TEST_F(RemotePipelineTest, MissingObjectsFailOnlyTheirSamplesAndAreNamed) {
  auto server = *TestHttpServer::Start([](const TestHttpServer::Request& request) {
    if (request.path.find("missing") != std::string::npos) {
      return TestHttpServer::Response{.status = 404};
    }
    return TestHttpServer::Bytes(request, ReadFile(kFixtures / "rgb_420.jpg"));
  });
  std::vector<std::string> urls;
  for (int i = 0; i < 10; ++i) {
    urls.push_back(server->Url(i == 4 || i == 7 ? absl::StrCat("/missing", i, ".jpg")
                                                : absl::StrCat("/img", i, ".jpg")));
  }
  std::vector<StageDefinition> stages = DecodeStages();
  stages.insert(stages.begin(), {.op = "read_url", .concurrency = 4});
  PipelineDefinition definition{.name = "urls",
                                .dataset = UrlList(urls, MakeStore(FastStore())),
                                .stages = stages,
                                .batch_size = 5,
                                .shuffle = false};
  absl::Status end;
  std::vector<CollatedBatch> batches = Stream(definition, {}, &end);
  EXPECT_TRUE(absl::IsOutOfRange(end)) << end;
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].sample_ids, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(batches[1].sample_ids, (std::vector<int64_t>{5, 6, 8, 9}));
  EXPECT_EQ(server->requests(), 10);  // 404s are answers: not retried.

  definition.stages[0].max_failures = 0;
  Stream(definition, {}, &end);
  EXPECT_TRUE(absl::IsAborted(end)) << end;
  EXPECT_THAT(end.message(), HasSubstr("stage 'read_url' exceeded its failure budget"));
  EXPECT_THAT(end.message(), HasSubstr("NOT_FOUND: object 'http://127.0.0.1:"));
  // Stages run in completion order: either missing object may be the one over the budget.
  EXPECT_THAT(std::string(end.message()),
              ::testing::ContainsRegex("/missing[47][.]jpg': read_url: HTTP 404"));
}

TEST_F(RemotePipelineTest, StoreThatGoesAwayEndsTheStreamUnavailable) {
  std::atomic<int> served{0};
  auto server = *TestHttpServer::Start([&](const TestHttpServer::Request& request) {
    served.fetch_add(1);
    TestHttpServer::Response response = TestHttpServer::Bytes(request, "bytes");
    response.delay = absl::Milliseconds(2);
    return response;
  });
  std::vector<std::string> urls;
  for (int i = 0; i < 400; ++i) urls.push_back(server->Url(absl::StrCat("/", i)));
  PipelineDefinition definition{
      .name = "urls",
      .dataset = UrlList(urls, MakeStore(FastStore())),
      .stages = {{.op = "read_url", .concurrency = 4}},
      .batch_size = 4,
      .shuffle = false,
      .sink_buffer = 1,
  };
  auto pipeline = BuildStreamPipeline(definition, {}, *runtime_, dataloader::testing::BuiltinOps());
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  absl::StatusOr<CollatedBatch> first = (*pipeline)->GetItem(absl::Seconds(30));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->sample_ids.size(), 4u);
  server->Stop();  // Every later request is refused, through every retry.
  absl::Status end;
  int more = 0;
  for (;; ++more) {
    absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(absl::Seconds(30));
    if (!batch.ok()) {
      end = batch.status();
      break;
    }
    ASSERT_LT(more, 100) << "the stream did not end";
  }
  EXPECT_TRUE(absl::IsUnavailable(end)) << end;
  EXPECT_THAT(end.message(), HasSubstr("stage 'read_url'"));
  EXPECT_THAT(end.message(), HasSubstr("after 3 attempts"));
  EXPECT_LT(served.load(), 400);
}

TEST_F(RemotePipelineTest, ReadUrlConcurrencyIsRequestsInFlightOnOnePoolThread) {
  // 16 requests, each answered after 300 ms, on a runtime with one pool thread: the server
  // sees 16 connections at once, which only a stage holding no thread can make.
  auto server = *TestHttpServer::Start([](const TestHttpServer::Request& request) {
    TestHttpServer::Response response = TestHttpServer::Bytes(request, "x");
    response.delay = absl::Milliseconds(300);
    return response;
  });
  std::vector<std::string> urls;
  for (int i = 0; i < 16; ++i) urls.push_back(server->Url(absl::StrCat("/", i)));
  auto store = MakeStore(FastStore());
  const PipelineDefinition definition{
      .name = "urls",
      .dataset = UrlList(urls, store),
      .stages = {{.op = "read_url", .concurrency = 16}},
      .batch_size = 16,
      .load_concurrency = 4,
  };
  std::unique_ptr<Runtime> one_thread = *Runtime::Create({.num_threads = 1});
  auto pipeline =
      BuildStreamPipeline(definition, {}, *one_thread, dataloader::testing::BuiltinOps());
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(absl::Seconds(60));
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->sample_ids.size(), 16u);
  EXPECT_EQ(store->http().Stats().peak_in_flight, 16);
  EXPECT_EQ(server->connections_accepted(), 16);
}

TEST_F(RemotePipelineTest, CancelAbortsTheTransfersInFlight) {
  std::atomic<int> arrived{0};
  auto server = *TestHttpServer::Start([&](const TestHttpServer::Request&) {
    arrived.fetch_add(1);
    return TestHttpServer::Response{.body = "late", .delay = absl::Seconds(60)};
  });
  std::vector<std::string> urls;
  for (int i = 0; i < 32; ++i) urls.push_back(server->Url(absl::StrCat("/", i)));
  auto store = MakeStore(FastStore());
  const PipelineDefinition definition{
      .name = "urls",
      .dataset = UrlList(urls, store),
      .stages = {{.op = "read_url", .concurrency = 8}},
      .batch_size = 8,  // The batch's end marker comes after the 8 requests, not among them.
  };
  auto pipeline = BuildStreamPipeline(definition, {}, *runtime_, dataloader::testing::BuiltinOps());
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  (*pipeline)->Start();
  for (int i = 0; i < 1000 && arrived.load() < 8; ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(arrived.load(), 8);
  EXPECT_EQ(store->http().Stats().in_flight, 8);
  const absl::Time cancelled_at = absl::Now();
  const absl::Status stopped = (*pipeline)->Stop();
  EXPECT_TRUE(absl::IsCancelled(stopped)) << stopped;
  // The transfers end long before the 60 s answers would.
  for (int i = 0; i < 1000 && store->http().Stats().in_flight > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(store->http().Stats().in_flight, 0);
  EXPECT_EQ(store->http().Stats().cancelled, 8);
  EXPECT_LT(absl::Now() - cancelled_at, absl::Seconds(5));
  EXPECT_EQ(arrived.load(), 8);  // Nothing new was asked for.
}

TEST_F(RemotePipelineTest, ReadUrlRefusesFileSourcesAndReadsRanges) {
  fs::create_directories(dir_ / "folder" / "c");
  std::ofstream(dir_ / "folder" / "c" / "a.jpg") << "x";
  auto files = FileDataset::FromImageFolder((dir_ / "folder").string(), {"jpg"});
  ASSERT_TRUE(files.ok());
  absl::Status refused = ValidatePipelineDefinition(
      {.name = "p", .dataset = *std::move(files), .stages = {{.op = "read_url"}}},
      dataloader::testing::BuiltinOps());
  EXPECT_TRUE(absl::IsInvalidArgument(refused));
  EXPECT_THAT(refused.message(), HasSubstr("use read_file"));

  auto server = *TestHttpServer::Start([](const TestHttpServer::Request& request) {
    return TestHttpServer::Bytes(request, "0123456789");
  });
  const PipelineDefinition ranged{
      .name = "ranged",
      .dataset = UrlList({server->Url("/a"), server->Url("/b")}, MakeStore(FastStore())),
      .stages = {{.op = "read_url", .args = {{"offset", "3"}, {"length", "4"}}}},
      .batch_size = 2,
      .shuffle = false,
  };
  absl::Status end;
  std::vector<CollatedBatch> batches = Stream(ranged, {}, &end);
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0].tensors.size(), 2u);
  EXPECT_EQ(batches[0].tensors[1].name, "encoded");
  EXPECT_EQ(batches[0].tensors[1].data.view(), "34563456");
  EXPECT_TRUE(absl::IsInvalidArgument(
      ValidatePipelineDefinition({.name = "p",
                                  .dataset = ranged.dataset,
                                  .stages = {{.op = "read_url", .args = {{"length", "0"}}}}},
                                 dataloader::testing::BuiltinOps())));
}

}  // namespace
}  // namespace dataloader::server
