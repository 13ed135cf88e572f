// Copyright 2026 The dataloader Authors.
//
// make_shards (the binary) on a small image folder: the shards, read back with libarchive, hold
// every file once, in the image_folder source's order, with its label, in the WebDataset
// layout; the same flags give byte-identical shards.
#include <archive.h>
#include <archive_entry.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/file_dataset.h"
#include "server/pipeline/shard_manifest.h"

namespace dataloader::tools {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Members of a tar file in order: name -> bytes.
std::vector<std::pair<std::string, std::string>> ReadTar(const fs::path& path) {
  std::vector<std::pair<std::string, std::string>> members;
  archive* reader = archive_read_new();
  archive_read_support_format_tar(reader);
  EXPECT_EQ(archive_read_open_filename(reader, path.c_str(), 1 << 16), ARCHIVE_OK) << path;
  archive_entry* entry = nullptr;
  while (archive_read_next_header(reader, &entry) == ARCHIVE_OK) {
    std::string bytes(static_cast<size_t>(archive_entry_size(entry)), '\0');
    EXPECT_EQ(archive_read_data(reader, bytes.data(), bytes.size()),
              static_cast<la_ssize_t>(bytes.size()));
    members.emplace_back(archive_entry_pathname(entry), std::move(bytes));
  }
  archive_read_free(reader);
  return members;
}

class MakeShardsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/make_shards_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    const fs::path fixtures = fs::path(DL_TEST_DATA_DIR) / "images";
    int n = 0;
    for (const char* name : {"rgb_420.jpg", "gray.jpg", "rgb.png", "palette.png", "cmyk.jpg",
                             "progressive.jpg", "rgba.png"}) {
      const fs::path target =
          dir_ / "images" / (n % 2 == 0 ? "cat" : "dog \"quoted\"") / absl::StrCat(n, "_", name);
      fs::create_directories(target.parent_path());
      fs::copy_file(fixtures / name, target);
      ++n;
    }
    fs::copy_file(fixtures / "rgb_444.jpg", dir_ / "images" / "cat" / "big.JPEG");
    std::ofstream(dir_ / "images" / "cat" / "notes.txt") << "not an image";
  }
  void TearDown() override { fs::remove_all(dir_); }

  int Run(const std::string& flags, std::string* output = nullptr) {
    const std::string log = (dir_ / "log.txt").string();
    const std::string command =
        absl::StrCat(DL_MAKE_SHARDS_BINARY, " ", flags, " > ", log, " 2>&1");
    const int status = std::system(command.c_str());
    if (output != nullptr) *output = ReadFile(log);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  fs::path dir_;
};

TEST_F(MakeShardsTest, ShardsHoldTheFolderInTheSourcesOrderWithLabels) {
  const fs::path out = dir_ / "shards";
  ASSERT_EQ(Run(absl::StrCat("--input=", (dir_ / "images").string(), " --output=", out.string(),
                             " --samples_per_shard=3")),
            0);
  auto files =
      server::FileDataset::FromImageFolder((dir_ / "images").string(), {"jpg", "jpeg", "png"});
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ((*files)->size(), 8);
  EXPECT_EQ(ReadFile(out / "shards.txt"), "shard-000000.tar\nshard-000001.tar\nshard-000002.tar\n");
  // The manifest: each shard with its sample count and size, and the total.
  absl::StatusOr<server::ShardManifest> manifest =
      server::ShardManifest::Parse(ReadFile(out / "manifest"), "manifest");
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  ASSERT_EQ(manifest->shards.size(), 3u);
  EXPECT_EQ(manifest->total_samples, 8);
  for (int shard = 0; shard < 3; ++shard) {
    const server::ShardEntry& entry = manifest->shards[static_cast<size_t>(shard)];
    EXPECT_EQ(entry.file, absl::StrFormat("shard-%06d.tar", shard));
    EXPECT_EQ(entry.samples, shard < 2 ? 3 : 2);
    EXPECT_EQ(entry.bytes, static_cast<int64_t>(fs::file_size(out / entry.file)));
  }
  std::vector<std::pair<std::string, std::string>> members;
  for (int shard = 0; shard < 3; ++shard) {
    auto part = ReadTar(out / absl::StrFormat("shard-%06d.tar", shard));
    EXPECT_EQ(part.size(), shard < 2 ? 9u : 6u) << shard;
    members.insert(members.end(), part.begin(), part.end());
  }
  ASSERT_EQ(members.size(), 24u);
  for (int64_t i = 0; i < (*files)->size(); ++i) {
    const std::string key = absl::StrFormat("%09d", i);
    const std::string path((*files)->path(i));
    const std::string extension = path.substr(path.size() - 3) == "png" ? "png" : "jpg";
    EXPECT_EQ(members[3 * i].first, absl::StrCat(key, ".", extension));
    EXPECT_TRUE(members[3 * i].second == ReadFile(dir_ / "images" / path)) << path;
    EXPECT_EQ(members[3 * i + 1].first, absl::StrCat(key, ".cls"));
    EXPECT_EQ(members[3 * i + 1].second, absl::StrCat((*files)->label(i)));
    EXPECT_EQ(members[3 * i + 2].first, absl::StrCat(key, ".json"));
    EXPECT_THAT(members[3 * i + 2].second,
                HasSubstr(absl::StrCat("\"label\": ", (*files)->label(i))));
  }
  EXPECT_THAT(members[5].second, HasSubstr("\"class\": \"cat\""));
  // Quotes in names are escaped in the JSON.
  bool escaped = false;
  for (const auto& [name, bytes] : members) {
    escaped = escaped || bytes.find("dog \\\"quoted\\\"") != std::string::npos;
  }
  EXPECT_TRUE(escaped);
}

TEST_F(MakeShardsTest, SameFlagsSameBytesAndSeededShuffles) {
  const std::string input = (dir_ / "images").string();
  ASSERT_EQ(Run(absl::StrCat("--input=", input, " --output=", (dir_ / "a").string())), 0);
  ASSERT_EQ(Run(absl::StrCat("--input=", input, " --output=", (dir_ / "b").string())), 0);
  EXPECT_TRUE(ReadFile(dir_ / "a" / "shard-000000.tar") ==
              ReadFile(dir_ / "b" / "shard-000000.tar"));

  ASSERT_EQ(Run(absl::StrCat("--input=", input, " --output=", (dir_ / "s1").string(),
                             " --shuffle_seed=5")),
            0);
  ASSERT_EQ(Run(absl::StrCat("--input=", input, " --output=", (dir_ / "s2").string(),
                             " --shuffle_seed=5")),
            0);
  EXPECT_TRUE(ReadFile(dir_ / "s1" / "shard-000000.tar") ==
              ReadFile(dir_ / "s2" / "shard-000000.tar"));
  auto plain = ReadTar(dir_ / "a" / "shard-000000.tar");
  auto shuffled = ReadTar(dir_ / "s1" / "shard-000000.tar");
  ASSERT_EQ(plain.size(), shuffled.size());
  std::multiset<std::string> plain_images, shuffled_images;
  std::vector<std::string> plain_order, shuffled_order;
  for (size_t i = 0; i < plain.size(); i += 3) {
    plain_images.insert(plain[i].second);
    shuffled_images.insert(shuffled[i].second);
    plain_order.push_back(plain[i + 2].second);
    shuffled_order.push_back(shuffled[i + 2].second);
  }
  EXPECT_EQ(plain_images, shuffled_images);  // The same samples...
  EXPECT_NE(plain_order, shuffled_order);    // ... in another order.
}

TEST_F(MakeShardsTest, BadFlagsFailClearly) {
  std::string output;
  EXPECT_EQ(Run("--output=/tmp/x", &output), 1);
  EXPECT_THAT(output, HasSubstr("--input and --output are required"));
  EXPECT_EQ(Run(absl::StrCat("--input=", (dir_ / "images").string(),
                             " --output=", (dir_ / "x").string(), " --samples_per_shard=0"),
                &output),
            1);
  EXPECT_THAT(output, HasSubstr("--samples_per_shard must be >= 1"));
  EXPECT_EQ(Run(absl::StrCat("--input=", (dir_ / "nowhere").string(),
                             " --output=", (dir_ / "x").string()),
                &output),
            1);
  EXPECT_THAT(output, HasSubstr("does not exist"));
}

}  // namespace
}  // namespace dataloader::tools
