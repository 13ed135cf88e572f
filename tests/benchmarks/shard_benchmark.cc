// Copyright 2026 The dataloader Authors.
//
// The training pipeline (decode_random_resized_crop 224 with flip, normalize to float32 CHW,
// batches of 32) fed three ways from the same images, in the same run, on a runtime of 2 pool
// threads:
//
//   BM_ReadOnly_ShardsLocal  the shard reader alone (no ops): the source's cost per sample.
//   BM_Train_Folder       image_folder + read_file: the local-folder baseline.
//   BM_Train_ShardsLocal  tar_shards, the shards as local files.
//   BM_Train_ShardsHttp   tar_shards over loopback HTTP: the test HTTP server (in this
//                         process, on the same cores) serves the manifest and the shards' byte
//                         ranges from memory; the stream reads each shard as 4 MiB ranged GETs,
//                         4 in flight.
//
// One iteration = one epoch of one stream (shuffled; shuffle buffer 1000). Goal: ShardsHttp
// >= 0.9 of Folder (items_per_second). The dataset (1,000 photo-like images from
// tools/make_image_dataset, in 250-sample shards from tools/make_shards) is made in
// /tmp/shard_benchmark on the first run and reused.
//
// SHARD_BENCHMARK_STATS=1 prints each epoch's stage statistics (tasks, mean task time).
//
// Run: ninja -C build shard_benchmark make_image_dataset make_shards &&
//      build/tests/benchmarks/shard_benchmark
#include <malloc.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "benchmark/benchmark.h"
#include "core/runtime.h"
#include "server/io/object_store.h"
#include "server/pipeline/file_dataset.h"
#include "server/pipeline/stream_pipeline.h"
#include "server/pipeline/tar_shard_dataset.h"
#include "tests/server/io/test_http_server.h"
#include "tests/server/ops/test_ops.h"

namespace dataloader::server {
namespace {

namespace fs = std::filesystem;
using ::dataloader::server::testing::TestHttpServer;

const fs::path kDir = "/tmp/shard_benchmark";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

struct Setup {
  std::unique_ptr<TestHttpServer> server;
  std::shared_ptr<io::ObjectStore> store;
  std::map<std::string, std::string> files;  // What the server serves, by path.
  std::unique_ptr<Runtime> runtime;
};

Setup& GetSetup() {
  static Setup* setup = [] {
    // As the server does (server/service/malloc_tuning.h), for both sources alike.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    if (!fs::exists(kDir / "shards" / "manifest")) {
      const std::string make = absl::StrCat(
          DL_MAKE_IMAGE_DATASET, " --output=", (kDir / "folder").string(),
          " --images=1000 --classes=10 && ", DL_MAKE_SHARDS,
          " --input=", (kDir / "folder").string(), " --output=", (kDir / "shards").string(),
          " --samples_per_shard=250 --shuffle_seed=1");
      if (std::system(make.c_str()) != 0) std::abort();
    }
    auto* made = new Setup();
    for (const auto& entry : fs::directory_iterator(kDir / "shards")) {
      made->files["/" + entry.path().filename().string()] = ReadFile(entry.path());
    }
    made->server = *TestHttpServer::Start([made](const TestHttpServer::Request& request) {
      TestHttpServer::Response response;
      auto file = made->files.find(request.path);
      if (file == made->files.end()) return TestHttpServer::Response{.status = 404};
      const std::string& body = file->second;
      auto range = request.headers.find("range");
      if (range == request.headers.end()) {
        response.body = body;
        return response;
      }
      std::vector<std::string> parts =
          absl::StrSplit(absl::string_view(range->second).substr(6), '-');
      int64_t first = 0, last = 0;
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &first) ||
          !absl::SimpleAtoi(parts[1], &last) || first >= static_cast<int64_t>(body.size())) {
        return TestHttpServer::Response{.status = 416};
      }
      last = std::min<int64_t>(last, static_cast<int64_t>(body.size()) - 1);
      response.status = 206;
      response.headers.push_back(
          {"Content-Range", absl::StrCat("bytes ", first, "-", last, "/", body.size())});
      response.body =
          body.substr(static_cast<size_t>(first), static_cast<size_t>(last - first + 1));
      return response;
    });
    made->store = *io::ObjectStore::Create({});
    made->runtime = *Runtime::Create({.num_threads = 2});
    return made;
  }();
  return *setup;
}

std::vector<StageDefinition> TrainStages(bool read_file) {
  std::vector<StageDefinition> stages;
  if (read_file) stages.push_back({.op = "read_file"});
  stages.push_back(
      {.op = "decode_random_resized_crop",
       .args = {
           {"size", "224"}, {"scale", "0.08,1"}, {"ratio", "0.75,1.3333333"}, {"flip", "0.5"}}});
  stages.push_back(
      {.op = "normalize",
       .args = {{"mean", "0.485,0.456,0.406"}, {"std", "0.229,0.224,0.225"}, {"layout", "chw"}}});
  return stages;
}

void RunEpochs(benchmark::State& state, const PipelineDefinition& definition) {
  Setup& setup = GetSetup();
  int64_t samples = 0;
  uint64_t epoch = 0;
  for (auto _ : state) {
    auto pipeline = BuildStreamPipeline(definition, {.epoch = epoch++, .seed = 7}, *setup.runtime,
                                        dataloader::testing::BuiltinOps());
    if (!pipeline.ok()) {
      state.SkipWithError(std::string(pipeline.status().message()).c_str());
      return;
    }
    while (true) {
      absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(absl::Seconds(120));
      if (!batch.ok()) {
        if (!absl::IsOutOfRange(batch.status())) {
          state.SkipWithError(std::string(batch.status().message()).c_str());
          return;
        }
        break;
      }
      samples += static_cast<int64_t>(batch->sample_ids.size());
    }
    if (std::getenv("SHARD_BENCHMARK_STATS") != nullptr) {
      for (const StageStats& stage : (*pipeline)->Stats().stages) {
        std::fprintf(stderr, "%s: tasks %lld mean %.1f us concurrency %lld\n", stage.name.c_str(),
                     static_cast<long long>(stage.tasks_started),
                     absl::ToDoubleMicroseconds(stage.mean_task_time),
                     static_cast<long long>(stage.concurrency));
      }
    }
  }
  state.SetItemsProcessed(samples);
}

void BM_Train_Folder(benchmark::State& state) {
  GetSetup();
  static std::shared_ptr<FileDataset> files =
      *FileDataset::FromImageFolder((kDir / "folder").string(), FileDataset::DefaultExtensions());
  RunEpochs(state, {.name = "folder", .dataset = files, .stages = TrainStages(true)});
}

void BM_Train_ShardsLocal(benchmark::State& state) {
  GetSetup();
  static std::shared_ptr<TarShardDataset> shards =
      *TarShardDataset::Open({.manifest = (kDir / "shards" / "manifest").string()});
  RunEpochs(state, {.name = "shards_local", .dataset = shards, .stages = TrainStages(false)});
}

void BM_Train_ShardsHttp(benchmark::State& state) {
  Setup& setup = GetSetup();
  // SHARD_BENCHMARK_RANGE_BYTES and SHARD_BENCHMARK_PREFETCH override the remote reading.
  RemoteShardOptions remote;
  if (const char* bytes = std::getenv("SHARD_BENCHMARK_RANGE_BYTES")) {
    remote.chunk_bytes = std::atoll(bytes);
  }
  if (const char* ahead = std::getenv("SHARD_BENCHMARK_PREFETCH"))
    remote.prefetch = std::atoi(ahead);
  static std::shared_ptr<TarShardDataset> shards = *TarShardDataset::Open(
      {.manifest = setup.server->Url("/manifest"), .store = setup.store, .remote = remote});
  RunEpochs(state, {.name = "shards_http", .dataset = shards, .stages = TrainStages(false)});
}

// The shard reader alone (no decode): what the source costs per sample.
void BM_ReadOnly_ShardsLocal(benchmark::State& state) {
  GetSetup();
  static std::shared_ptr<TarShardDataset> shards =
      *TarShardDataset::Open({.manifest = (kDir / "shards" / "manifest").string()});
  int64_t samples = 0;
  for (auto _ : state) {
    auto stream = *shards->OpenStream({.shard_count = 1, .end_sample = shards->size()});
    while (true) {
      absl::StatusOr<std::optional<SequentialItem>> item = stream->Next();
      if (!item.ok() || !item->has_value()) break;
      ++samples;
    }
  }
  state.SetItemsProcessed(samples);
}

BENCHMARK(BM_ReadOnly_ShardsLocal)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK(BM_Train_Folder)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK(BM_Train_ShardsLocal)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK(BM_Train_ShardsHttp)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
// The folder again, last: both orders in one run show the machine's drift.
BENCHMARK(BM_Train_Folder)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace
}  // namespace dataloader::server

BENCHMARK_MAIN();
