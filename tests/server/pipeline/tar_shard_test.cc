// Copyright 2026 The dataloader Authors.
//
// Tar shards (TarShardDataset) on real tar files written with libarchive or by
// tools/make_shards, read locally and over a real HTTP server on 127.0.0.1: an epoch covers
// every sample once with equal counts per stream; order is a function of (seed, epoch); the
// shuffle buffer holds at most B samples; resume gives exactly the tail of an uninterrupted
// stream; damaged shards and members fail only their samples; HTTP gives the local bytes.
#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/file_dataset.h"
#include "server/pipeline/shard_manifest.h"
#include "server/pipeline/stream_pipeline.h"
#include "server/pipeline/tar_shard_dataset.h"
#include "tests/server/io/test_http_server.h"
#include "tests/server/ops/test_ops.h"

namespace dataloader::server {
namespace {

namespace fs = std::filesystem;
using ::dataloader::server::testing::TestHttpServer;
using ::testing::HasSubstr;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void WriteTar(const fs::path& path,
              const std::vector<std::pair<std::string, std::string>>& members) {
  archive* out = archive_write_new();
  ASSERT_EQ(archive_write_set_format_pax_restricted(out), ARCHIVE_OK);
  ASSERT_EQ(archive_write_open_filename(out, path.c_str()), ARCHIVE_OK);
  for (const auto& [name, bytes] : members) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(bytes.size()));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    ASSERT_EQ(archive_write_header(out, entry), ARCHIVE_OK);
    ASSERT_EQ(archive_write_data(out, bytes.data(), bytes.size()),
              static_cast<la_ssize_t>(bytes.size()));
    archive_entry_free(entry);
  }
  ASSERT_EQ(archive_write_close(out), ARCHIVE_OK);
  archive_write_free(out);
}

// Sample `id`'s image bytes: 64 bytes that name it (all samples the same size, so batches
// collate without decoding).
std::string Payload(int64_t id) {
  std::string bytes = absl::StrFormat("sample-%06d|", id);
  while (bytes.size() < 64) bytes += static_cast<char>('a' + (id + bytes.size()) % 26);
  return bytes;
}

struct Item {
  int64_t id = 0;
  absl::Status status{};
  std::string bytes{};
  int64_t label = -2;
  friend void PrintTo(const Item& item, std::ostream* out) {
    *out << "{" << item.id << ", " << item.status << ", " << item.bytes.size() << " bytes, label "
         << item.label << "}";
  }
  bool operator==(const Item& other) const {
    return id == other.id && status == other.status && bytes == other.bytes && label == other.label;
  }
};

class TarShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tar_shard_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Shards of the given sample counts, sample ids in order; label = id % 7.
  void MakeShards(const std::vector<int64_t>& counts) {
    ShardManifest manifest;
    int64_t id = 0;
    for (size_t s = 0; s < counts.size(); ++s) {
      std::vector<std::pair<std::string, std::string>> members;
      for (int64_t i = 0; i < counts[s]; ++i, ++id) {
        const std::string key = absl::StrFormat("%09d", id);
        members.push_back({key + ".jpg", Payload(id)});
        members.push_back({key + ".cls", absl::StrCat(id % 7)});
        members.push_back({key + ".json", "{}"});
      }
      const std::string file = absl::StrFormat("shard-%06d.tar", s);
      WriteTar(dir_ / file, members);
      manifest.shards.push_back({.file = file,
                                 .samples = counts[s],
                                 .bytes = static_cast<int64_t>(fs::file_size(dir_ / file))});
      manifest.total_samples += counts[s];
    }
    std::ofstream(dir_ / "manifest") << manifest.Format();
  }

  std::shared_ptr<TarShardDataset> Open(int64_t buffer, std::string manifest = "",
                                        std::shared_ptr<const io::ObjectStore> store = nullptr,
                                        RemoteShardOptions remote = {}) {
    if (manifest.empty()) manifest = (dir_ / "manifest").string();
    auto dataset = TarShardDataset::Open({.manifest = manifest,
                                          .shuffle_buffer = buffer,
                                          .store = std::move(store),
                                          .remote = remote});
    EXPECT_TRUE(dataset.ok()) << dataset.status();
    return dataset.ok() ? *std::move(dataset) : nullptr;
  }

  static std::vector<Item> Collect(const TarShardDataset& dataset, SequentialStreamRequest request,
                                   std::shared_ptr<TarShardStreamStats> stats = nullptr) {
    if (request.end_sample == 0) request.end_sample = dataset.SamplesPerStream(request.shard_count);
    auto stream = dataset.OpenStream(request, std::move(stats));
    EXPECT_TRUE(stream.ok()) << stream.status();
    std::vector<Item> items;
    if (!stream.ok()) return items;
    for (int i = 0; i < 100000; ++i) {
      absl::StatusOr<std::optional<SequentialItem>> next = (*stream)->Next();
      EXPECT_TRUE(next.ok()) << next.status();
      if (!next.ok() || !next->has_value()) break;
      Item item{.id = (*next)->index, .status = (*next)->sample.status()};
      if ((*next)->sample.ok()) {
        Sample& sample = *(*next)->sample;
        EXPECT_EQ(sample.index, item.id);
        absl::StatusOr<Tensor*> encoded = sample.Find("encoded");
        absl::StatusOr<Tensor*> label = sample.Find("label");
        EXPECT_TRUE(encoded.ok() && label.ok());
        if (encoded.ok()) item.bytes.assign((*encoded)->data.begin(), (*encoded)->data.end());
        if (label.ok()) std::memcpy(&item.label, (*label)->data.data(), sizeof item.label);
      }
      items.push_back(std::move(item));
    }
    return items;
  }

  fs::path dir_;
};

TEST(ShardManifestTest, ParsesAndNamesBadLines) {
  absl::StatusOr<ShardManifest> manifest =
      ShardManifest::Parse("# comment\na.tar 3 100\n\nsub/b.tar 2 50\ntotal 5\n", "m");
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  ASSERT_EQ(manifest->shards.size(), 2u);
  EXPECT_EQ(manifest->shards[1].file, "sub/b.tar");
  EXPECT_EQ(manifest->shards[1].samples, 2);
  EXPECT_EQ(manifest->shards[0].bytes, 100);
  EXPECT_EQ(manifest->total_samples, 5);
  EXPECT_EQ(ShardManifest::Parse(manifest->Format(), "again")->shards[1].file, "sub/b.tar");

  EXPECT_THAT(ShardManifest::Parse("a.tar 3 100\nb.tar x 5\ntotal 3\n", "m").status().message(),
              HasSubstr("m:2: expected 'FILE SAMPLES BYTES'"));
  EXPECT_THAT(ShardManifest::Parse("a.tar 3 100\ntotal 4\n", "m").status().message(),
              HasSubstr("m:2: total 4 is not the sum"));
  EXPECT_THAT(ShardManifest::Parse("a.tar 3 100\n", "m").status().message(),
              HasSubstr("no 'total SAMPLES' line"));
  EXPECT_THAT(ShardManifest::Parse("../a.tar 3 100\ntotal 3\n", "m").status().message(),
              HasSubstr("m:1: shard '../a.tar' leaves"));
  EXPECT_THAT(ShardManifest::Parse("/a.tar 3 100\ntotal 3\n", "m").status().message(),
              HasSubstr("m:1:"));
}

TEST_F(TarShardTest, EpochCoversEverySampleOnceWithEqualCounts) {
  MakeShards({7, 5, 9, 3, 6});  // 30 samples
  std::shared_ptr<TarShardDataset> dataset = Open(4);
  ASSERT_NE(dataset, nullptr);
  for (int64_t n : {1, 3, 4}) {
    std::set<int64_t> seen;
    for (int64_t k = 0; k < n; ++k) {
      std::vector<Item> items =
          Collect(*dataset, {.seed = 9, .epoch = 2, .shard_index = k, .shard_count = n});
      EXPECT_EQ(static_cast<int64_t>(items.size()), 30 / n);
      for (const Item& item : items) {
        ASSERT_TRUE(item.status.ok()) << item.status;
        EXPECT_EQ(item.bytes, Payload(item.id));
        EXPECT_EQ(item.label, item.id % 7);
        EXPECT_TRUE(seen.insert(item.id).second) << "sample " << item.id << " twice";
      }
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), 30 / n * n);
  }
}

TEST_F(TarShardTest, OrderIsAFunctionOfSeedAndEpoch) {
  MakeShards({10, 10, 10, 10});
  std::shared_ptr<TarShardDataset> dataset = Open(8);
  ASSERT_NE(dataset, nullptr);
  const SequentialStreamRequest request{.seed = 5, .epoch = 1, .shard_index = 1, .shard_count = 2};
  const std::vector<Item> first = Collect(*dataset, request);
  EXPECT_EQ(Collect(*dataset, request), first);
  SequentialStreamRequest other_epoch = request;
  other_epoch.epoch = 2;
  EXPECT_NE(Collect(*dataset, other_epoch), first);
  SequentialStreamRequest other_seed = request;
  other_seed.seed = 6;
  EXPECT_NE(Collect(*dataset, other_seed), first);
  // Without shuffling: the manifest's order.
  SequentialStreamRequest in_order{.shard_count = 1, .shuffle = false};
  std::vector<Item> ordered = Collect(*dataset, in_order);
  ASSERT_EQ(ordered.size(), 40u);
  for (int64_t i = 0; i < 40; ++i) EXPECT_EQ(ordered[static_cast<size_t>(i)].id, i);
}

TEST_F(TarShardTest, BufferNeverHoldsMoreThanB) {
  MakeShards({50, 50, 50});
  for (int64_t buffer : {1, 7, 32}) {
    std::shared_ptr<TarShardDataset> dataset = Open(buffer);
    ASSERT_NE(dataset, nullptr);
    auto stats = std::make_shared<TarShardStreamStats>();
    std::vector<Item> items = Collect(*dataset, {.seed = 1, .shard_count = 1}, stats);
    EXPECT_EQ(items.size(), 150u);
    EXPECT_EQ(stats->max_buffered, buffer) << "B = " << buffer;
    EXPECT_EQ(stats->samples_read, 150);
    // The buffer shuffles across shard boundaries: not the manifest's order.
    if (buffer > 1) {
      int64_t displaced = 0;
      for (size_t i = 0; i < items.size(); ++i) displaced += items[i].id != static_cast<int64_t>(i);
      EXPECT_GT(displaced, 0);
    }
  }
}

TEST_F(TarShardTest, ResumeGivesTheTailOfTheUninterruptedStream) {
  MakeShards({13, 8, 11, 9});  // 41 samples
  std::shared_ptr<TarShardDataset> dataset = Open(6);
  ASSERT_NE(dataset, nullptr);
  PipelineDefinition definition{.name = "shards", .dataset = dataset, .batch_size = 3};
  auto runtime = *Runtime::Create({.num_threads = 2});
  auto stream = [&](int64_t start, int64_t k, int64_t n) {
    auto pipeline = BuildStreamPipeline(
        definition,
        {.shard_index = k, .shard_count = n, .epoch = 3, .seed = 11, .start_sequence = start},
        *runtime, dataloader::testing::BuiltinOps());
    EXPECT_TRUE(pipeline.ok()) << pipeline.status();
    std::vector<CollatedBatch> batches;
    while (pipeline.ok()) {
      absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(absl::Seconds(60));
      if (!batch.ok()) {
        EXPECT_TRUE(absl::IsOutOfRange(batch.status())) << batch.status();
        break;
      }
      batches.push_back(*std::move(batch));
    }
    return batches;
  };
  for (int64_t n : {1, 2}) {
    for (int64_t k = 0; k < n; ++k) {
      const std::vector<CollatedBatch> full = stream(0, k, n);
      const int64_t per_stream = 41 / n;
      ASSERT_EQ(static_cast<int64_t>(full.size()), (per_stream + 2) / 3);
      EXPECT_EQ(*BatchesPerShard(definition, {.shard_index = k, .shard_count = n}),
                static_cast<int64_t>(full.size()));
      for (int64_t start : {int64_t{1}, int64_t{4}, static_cast<int64_t>(full.size()) - 1}) {
        const std::vector<CollatedBatch> tail = stream(start, k, n);
        ASSERT_EQ(tail.size(), full.size() - static_cast<size_t>(start));
        for (size_t i = 0; i < tail.size(); ++i) {
          const CollatedBatch& want = full[static_cast<size_t>(start) + i];
          EXPECT_EQ(tail[i].sequence, want.sequence);
          EXPECT_EQ(tail[i].sample_ids, want.sample_ids);
          ASSERT_EQ(tail[i].tensors.size(), want.tensors.size());
          for (size_t t = 0; t < want.tensors.size(); ++t) {
            EXPECT_EQ(tail[i].tensors[t].name, want.tensors[t].name);
            EXPECT_EQ(tail[i].tensors[t].shape, want.tensors[t].shape);
            EXPECT_TRUE(std::equal(tail[i].tensors[t].data.data(),
                                   tail[i].tensors[t].data.data() + tail[i].tensors[t].data.size(),
                                   want.tensors[t].data.data()));
          }
        }
      }
    }
  }
}

TEST_F(TarShardTest, ResumeReadsOnlyWhatItMust) {
  MakeShards({10, 10, 10, 10});
  // In order: a resume at sample 15 does not touch shard 0 and skips 5 samples of shard 1.
  std::shared_ptr<TarShardDataset> in_order = Open(1);
  ASSERT_NE(in_order, nullptr);
  auto stats = std::make_shared<TarShardStreamStats>();
  std::vector<Item> tail = Collect(
      *in_order, {.shard_count = 1, .shuffle = false, .first_sample = 15, .end_sample = 40}, stats);
  ASSERT_EQ(tail.size(), 25u);
  EXPECT_EQ(tail[0].id, 15);
  EXPECT_EQ(stats->samples_read, 25);
  EXPECT_EQ(stats->samples_skipped, 5);
  // Shuffled: only the undelivered samples are read with their data; the delivered ones
  // after the first undelivered are skipped, and never more than the resume point.
  std::shared_ptr<TarShardDataset> shuffled = Open(8);
  ASSERT_NE(shuffled, nullptr);
  stats = std::make_shared<TarShardStreamStats>();
  tail = Collect(*shuffled, {.seed = 2, .shard_count = 1, .first_sample = 20, .end_sample = 40},
                 stats);
  ASSERT_EQ(tail.size(), 20u);
  EXPECT_EQ(stats->samples_read, 20);
  EXPECT_LE(stats->samples_skipped, 20);
  EXPECT_LE(stats->max_buffered, 8);
}

TEST_F(TarShardTest, DamagedShardsFailOnlyTheirSamples) {
  MakeShards({6, 6, 6});
  // Shard 1 cut in the middle of its fourth sample's image; shard 2 missing; a bad label in
  // shard 0.
  const fs::path cut = dir_ / "shard-000001.tar";
  const std::string bytes = ReadFile(cut);
  const size_t at = bytes.find(Payload(9)) + 20;
  ASSERT_NE(at, std::string::npos + 20);
  std::ofstream(cut, std::ios::binary | std::ios::trunc) << bytes.substr(0, at);
  fs::remove(dir_ / "shard-000002.tar");
  std::vector<std::pair<std::string, std::string>> members;
  for (int64_t id = 0; id < 6; ++id) {
    const std::string key = absl::StrFormat("%09d", id);
    members.push_back({key + ".jpg", Payload(id)});
    members.push_back({key + ".cls", id == 2 ? "two" : absl::StrCat(id % 7)});
  }
  WriteTar(dir_ / "shard-000000.tar", members);

  std::shared_ptr<TarShardDataset> dataset = Open(1);
  ASSERT_NE(dataset, nullptr);
  std::vector<Item> items = Collect(*dataset, {.shard_count = 1, .shuffle = false});
  ASSERT_EQ(items.size(), 18u);
  for (const Item& item : items) {
    if (item.id == 2) {
      EXPECT_TRUE(absl::IsInvalidArgument(item.status)) << item.status;
      EXPECT_THAT(item.status.message(),
                  HasSubstr("shard 'shard-000000.tar', sample '000000002': member "
                            "'000000002.cls' is not an integer label"));
    } else if (item.id >= 9 && item.id < 12) {
      EXPECT_TRUE(absl::IsDataLoss(item.status)) << item.status;
      EXPECT_THAT(item.status.message(), HasSubstr("shard 'shard-000001.tar'"));
    } else if (item.id >= 12) {
      EXPECT_TRUE(absl::IsNotFound(item.status)) << item.status;
      EXPECT_THAT(item.status.message(), HasSubstr("shard 'shard-000002.tar'"));
    } else {
      ASSERT_TRUE(item.status.ok()) << item.id << ": " << item.status;
      EXPECT_EQ(item.bytes, Payload(item.id));
    }
  }
  EXPECT_THAT(items[9].status.message(), HasSubstr("000000009.jpg"));
}

TEST_F(TarShardTest, FailedSamplesAreDroppedFromTheirBatchesNotTheStream) {
  MakeShards({4, 4});
  fs::remove(dir_ / "shard-000000.tar");
  std::shared_ptr<TarShardDataset> dataset = Open(1);
  ASSERT_NE(dataset, nullptr);
  PipelineDefinition definition{
      .name = "shards", .dataset = dataset, .batch_size = 2, .shuffle = false};
  auto runtime = *Runtime::Create({.num_threads = 2});
  auto pipeline = BuildStreamPipeline(definition, {.shard_count = 1}, *runtime,
                                      dataloader::testing::BuiltinOps());
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  std::vector<std::vector<int64_t>> ids;
  while (true) {
    absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(absl::Seconds(60));
    if (!batch.ok()) {
      EXPECT_TRUE(absl::IsOutOfRange(batch.status())) << batch.status();
      break;
    }
    ids.push_back(batch->sample_ids);
  }
  EXPECT_EQ(ids, (std::vector<std::vector<int64_t>>{{}, {}, {4, 5}, {6, 7}}));
}

// Serves files of `dir` with byte ranges, as an object store would.
std::unique_ptr<TestHttpServer> ServeDirectory(const fs::path& dir, std::atomic<int>* requests) {
  auto server = TestHttpServer::Start([dir, requests](const TestHttpServer::Request& request) {
    requests->fetch_add(1);
    TestHttpServer::Response response;
    const fs::path path = dir / request.path.substr(1);
    if (request.path.find("..") != std::string::npos || !fs::exists(path)) {
      response.status = 404;
      return response;
    }
    std::string body = ReadFile(path);
    auto range = request.headers.find("range");
    if (range != request.headers.end()) {
      std::vector<std::string> parts =
          absl::StrSplit(absl::string_view(range->second).substr(std::strlen("bytes=")), '-');
      int64_t first = 0, last = 0;
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &first) ||
          !absl::SimpleAtoi(parts[1], &last) || first >= static_cast<int64_t>(body.size())) {
        response.status = 416;
        return response;
      }
      last = std::min<int64_t>(last, static_cast<int64_t>(body.size()) - 1);
      response.status = 206;
      response.headers.push_back(
          {"Content-Range", absl::StrCat("bytes ", first, "-", last, "/", body.size())});
      body = body.substr(static_cast<size_t>(first), static_cast<size_t>(last - first + 1));
    }
    response.body = std::move(body);
    return response;
  });
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

TEST_F(TarShardTest, HttpGivesTheLocalBytes) {
  MakeShards({20, 17, 25});
  std::atomic<int> requests{0};
  std::unique_ptr<TestHttpServer> server = ServeDirectory(dir_, &requests);
  ASSERT_NE(server, nullptr);
  auto store = io::ObjectStore::Create({});
  ASSERT_TRUE(store.ok()) << store.status();
  std::shared_ptr<TarShardDataset> local = Open(5);
  // Small ranges: each shard takes several.
  std::shared_ptr<TarShardDataset> remote =
      Open(5, server->Url("/manifest"), *store, {.chunk_bytes = 1500, .prefetch = 3});
  ASSERT_NE(local, nullptr);
  ASSERT_NE(remote, nullptr);
  EXPECT_EQ(local->ContentFingerprint(), remote->ContentFingerprint());
  for (int64_t k = 0; k < 2; ++k) {
    const SequentialStreamRequest request{
        .seed = 3, .epoch = 1, .shard_index = k, .shard_count = 2};
    const std::vector<Item> want = Collect(*local, request);
    ASSERT_EQ(want.size(), 31u);
    EXPECT_EQ(Collect(*remote, request), want);
    // Resumed over HTTP too.
    SequentialStreamRequest resumed = request;
    resumed.first_sample = 10;
    std::vector<Item> tail = Collect(*remote, resumed);
    EXPECT_EQ(tail, std::vector<Item>(want.begin() + 10, want.end()));
  }
  EXPECT_GT(requests.load(), 3 * 2);

  // A missing shard fails its samples (NotFound, naming it); the others arrive.
  fs::remove(dir_ / "shard-000001.tar");
  std::vector<Item> items = Collect(*remote, {.shard_count = 1, .shuffle = false});
  ASSERT_EQ(items.size(), 62u);
  for (const Item& item : items) {
    if (item.id >= 20 && item.id < 37) {
      EXPECT_TRUE(absl::IsNotFound(item.status)) << item.status;
      EXPECT_THAT(item.status.message(), HasSubstr("shard-000001.tar"));
    } else {
      EXPECT_TRUE(item.status.ok()) << item.status;
    }
  }
}

TEST_F(TarShardTest, MakeShardsGivesTheFolderSamples) {
  // An image folder in the ImageNet layout, from the fixtures.
  const fs::path fixtures = fs::path(DL_TEST_DATA_DIR) / "images";
  const fs::path folder = dir_ / "folder";
  int copied = 0;
  for (const char* name : {"gray.jpg", "gray.png", "palette.png", "cmyk.jpg", "interlaced.png"}) {
    const fs::path to = folder / (copied % 2 == 0 ? "cat" : "dog") / name;
    fs::create_directories(to.parent_path());
    fs::copy_file(fixtures / name, to);
    ++copied;
  }
  const std::string command =
      absl::StrCat(DL_MAKE_SHARDS, " --input=", folder.string(),
                   " --output=", (dir_ / "shards").string(), " --samples_per_shard=2 > /dev/null");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::shared_ptr<TarShardDataset> dataset = Open(1, (dir_ / "shards" / "manifest").string());
  ASSERT_NE(dataset, nullptr);
  EXPECT_EQ(dataset->manifest().shards.size(), 3u);
  auto files = FileDataset::FromImageFolder(folder.string(), {"jpg", "png"});
  ASSERT_TRUE(files.ok()) << files.status();
  std::vector<Item> items = Collect(*dataset, {.shard_count = 1, .shuffle = false});
  ASSERT_EQ(static_cast<int64_t>(items.size()), (*files)->size());
  for (const Item& item : items) {
    ASSERT_TRUE(item.status.ok()) << item.status;
    EXPECT_EQ(item.bytes, ReadFile(folder / std::string((*files)->path(item.id))));
    EXPECT_EQ(item.label, (*files)->label(item.id));
  }
}

TEST_F(TarShardTest, DecodeOpsGiveTheFolderPipelinesBatches) {
  // The folder's pipeline (read_file, decode, resize) and the shards' (decode, resize), in the
  // folder's order: the same batches, byte for byte.
  const fs::path fixtures = fs::path(DL_TEST_DATA_DIR) / "images";
  const fs::path folder = dir_ / "folder";
  int copied = 0;
  for (const char* name : {"gray.jpg", "gray.png", "palette.png", "cmyk.jpg", "interlaced.png"}) {
    const fs::path to = folder / (copied % 2 == 0 ? "cat" : "dog") / name;
    fs::create_directories(to.parent_path());
    fs::copy_file(fixtures / name, to);
    ++copied;
  }
  const std::string command =
      absl::StrCat(DL_MAKE_SHARDS, " --input=", folder.string(),
                   " --output=", (dir_ / "shards").string(), " --samples_per_shard=2 > /dev/null");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::shared_ptr<TarShardDataset> shards = Open(1, (dir_ / "shards" / "manifest").string());
  auto files = FileDataset::FromImageFolder(folder.string(), {"jpg", "png"});
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_NE(shards, nullptr);
  const std::vector<StageDefinition> decode = {{.op = "decode_image"},
                                               {.op = "resize", .args = {{"size", "12,16"}}}};
  std::vector<StageDefinition> read_and_decode = decode;
  read_and_decode.insert(read_and_decode.begin(), StageDefinition{.op = "read_file"});
  auto runtime = *Runtime::Create({.num_threads = 2});
  auto batches = [&](const PipelineDefinition& definition) {
    auto pipeline = BuildStreamPipeline(definition, {.shard_count = 1, .seed = 3}, *runtime,
                                        dataloader::testing::BuiltinOps());
    EXPECT_TRUE(pipeline.ok()) << pipeline.status();
    std::vector<CollatedBatch> out;
    while (pipeline.ok()) {
      absl::StatusOr<CollatedBatch> batch = (*pipeline)->GetItem(absl::Seconds(60));
      if (!batch.ok()) {
        EXPECT_TRUE(absl::IsOutOfRange(batch.status())) << batch.status();
        break;
      }
      out.push_back(*std::move(batch));
    }
    return out;
  };
  const std::vector<CollatedBatch> from_folder = batches({.name = "folder",
                                                          .dataset = *std::move(files),
                                                          .stages = read_and_decode,
                                                          .batch_size = 2,
                                                          .shuffle = false});
  const std::vector<CollatedBatch> from_shards = batches(
      {.name = "shards", .dataset = shards, .stages = decode, .batch_size = 2, .shuffle = false});
  ASSERT_EQ(from_folder.size(), 3u);
  ASSERT_EQ(from_shards.size(), from_folder.size());
  for (size_t b = 0; b < from_folder.size(); ++b) {
    EXPECT_EQ(from_shards[b].sample_ids, from_folder[b].sample_ids);
    ASSERT_EQ(from_shards[b].tensors.size(), 2u);
    ASSERT_EQ(from_folder[b].tensors.size(), 2u);
    for (size_t t = 0; t < 2; ++t) {
      const BatchTensor& got = from_shards[b].tensors[t];
      const BatchTensor& want = from_folder[b].tensors[t];
      EXPECT_EQ(got.name, want.name);
      EXPECT_EQ(got.shape, want.shape);
      ASSERT_EQ(got.data.size(), want.data.size());
      EXPECT_EQ(std::memcmp(got.data.data(), want.data.data(), got.data.size()), 0)
          << "batch " << b << " tensor " << got.name;
    }
  }
}

}  // namespace
}  // namespace dataloader::server
