// Copyright 2026 The dataloader Authors.
//
// RemoteDataset: URL lists, and S3 prefixes listed from a real S3 API server (s3rver) in the
// same order and with the same labels as the same files in a local folder.
#include "server/pipeline/remote_dataset.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/file_dataset.h"
#include "tests/server/io/s3rver.h"
#include "tests/server/io/test_http_server.h"

namespace dataloader::server {
namespace {

namespace fs = std::filesystem;
using ::dataloader::server::testing::S3rver;
using ::dataloader::server::testing::TestHttpServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

io::ObjectStoreOptions FastStore(std::optional<io::S3Options> s3 = std::nullopt) {
  io::ObjectStoreOptions options;
  options.http.retry = {.max_attempts = 2,
                        .initial_backoff = absl::Milliseconds(5),
                        .max_backoff = absl::Milliseconds(10)};
  options.s3 = std::move(s3);
  return options;
}

std::shared_ptr<io::ObjectStore> MakeStore(io::ObjectStoreOptions options) {
  absl::StatusOr<std::shared_ptr<io::ObjectStore>> store = io::ObjectStore::Create(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

class RemoteDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/remote_dataset_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string WriteList(const std::string& text) {
    const std::string path = (dir_ / "list.txt").string();
    std::ofstream(path) << text;
    return path;
  }
  fs::path dir_;
};

TEST_F(RemoteDatasetTest, UrlListInOrderWithOptionalLabels) {
  auto store = MakeStore(FastStore(io::S3Options{.anonymous = true}));
  auto dataset = RemoteDataset::FromUrlList(WriteList("# images\n"
                                                      "http://h/a.jpg 3\n"
                                                      "\n"
                                                      "  https://h/b.png\n"
                                                      "s3://bucket/c/d.jpg\t7\n"),
                                            store);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ((*dataset)->size(), 3);
  EXPECT_EQ((*dataset)->url(0), "http://h/a.jpg");
  EXPECT_EQ((*dataset)->url(1), "https://h/b.png");
  EXPECT_EQ((*dataset)->url(2), "s3://bucket/c/d.jpg");
  EXPECT_EQ((*dataset)->label(0), 3);
  EXPECT_EQ((*dataset)->label(1), -1);
  EXPECT_EQ((*dataset)->label(2), 7);
  absl::StatusOr<Sample> sample = (*dataset)->Load(2, 99);
  ASSERT_TRUE(sample.ok());
  EXPECT_EQ(sample->path, "s3://bucket/c/d.jpg");
  EXPECT_EQ(sample->store.get(), store.get());
  EXPECT_EQ(sample->seed, 99u);
  EXPECT_EQ(sample->Describe(), "object 's3://bucket/c/d.jpg'");
  EXPECT_TRUE(absl::IsOutOfRange((*dataset)->Load(3, 0).status()));
}

TEST_F(RemoteDatasetTest, UrlListErrorsNameTheLine) {
  auto store = MakeStore(FastStore());
  auto dataset = RemoteDataset::FromUrlList(WriteList("http://h/a.jpg\nftp://h/b.jpg\n"), store);
  EXPECT_TRUE(absl::IsInvalidArgument(dataset.status()));
  EXPECT_THAT(dataset.status().message(), HasSubstr("line 2"));
  dataset = RemoteDataset::FromUrlList(WriteList("s3://bucket/key.jpg\n"), store);
  EXPECT_THAT(dataset.status().message(), HasSubstr("no s3 options"));
  dataset = RemoteDataset::FromUrlList(WriteList("http://h/a.jpg cat\n"), store);
  EXPECT_THAT(dataset.status().message(), HasSubstr("integer label"));
  dataset = RemoteDataset::FromUrlList(WriteList("# nothing\n"), store);
  EXPECT_THAT(dataset.status().message(), HasSubstr("names no URLs"));
  dataset = RemoteDataset::FromUrlList("/nonexistent/list.txt", store);
  EXPECT_TRUE(absl::IsNotFound(dataset.status()));
}

TEST_F(RemoteDatasetTest, CheckReachableRefusesDeniedAndUnreachableButNotMissing) {
  auto server = *TestHttpServer::Start([](const TestHttpServer::Request& request) {
    if (request.path == "/denied.jpg") return TestHttpServer::Response{.status = 403};
    if (request.path == "/missing.jpg") return TestHttpServer::Response{.status = 404};
    return TestHttpServer::Bytes(request, "JPEG");
  });
  auto store = MakeStore(FastStore());
  auto check = [&](const std::string& path) {
    auto dataset = RemoteDataset::FromUrlList(WriteList(server->Url(path) + "\n"), store);
    EXPECT_TRUE(dataset.ok()) << dataset.status();
    return (*dataset)->CheckReachable();
  };
  EXPECT_TRUE(check("/ok.jpg").ok());
  EXPECT_TRUE(check("/missing.jpg").ok());  // Fails only its sample, later.
  absl::Status denied = check("/denied.jpg");
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_THAT(denied.message(), HasSubstr("/denied.jpg"));
  server->Stop();
  EXPECT_TRUE(absl::IsUnavailable(check("/ok.jpg")));
}

// The same files in a local folder and under an S3 prefix.
class RemoteDatasetS3Test : public RemoteDatasetTest {
 protected:
  void SetUp() override {
    RemoteDatasetTest::SetUp();
    absl::StatusOr<std::unique_ptr<S3rver>> started = S3rver::Start("data");
    ASSERT_TRUE(started.ok()) << started.status();
    s3rver_ = *std::move(started);
    // Class names whose byte order differs from a plain sort of whole paths ("a-b/" < "a/"),
    // nested folders, upper-case extensions, files that are filtered out.
    const std::vector<std::string> files = {"a/2.jpg",       "a/10.jpg",      "a/sub/1.JPG",
                                            "a-b/x.png",     "a-b/notes.txt", "class 3/é 1.jpeg",
                                            "class 3/0.jpg", "z/only.png"};
    for (const std::string& file : files) {
      const fs::path path = dir_ / "folder" / file;
      fs::create_directories(path.parent_path());
      std::ofstream(path) << "content of " << file;
      ASSERT_TRUE(s3rver_->Put("data", "train/" + file, "content of " + file).ok());
    }
    // Not part of the layout: a file at the prefix's top and one beside the prefix.
    ASSERT_TRUE(s3rver_->Put("data", "train/top.jpg", "x").ok());
    ASSERT_TRUE(s3rver_->Put("data", "trainer/a/1.jpg", "x").ok());
  }
  std::unique_ptr<S3rver> s3rver_;
};

TEST_F(RemoteDatasetS3Test, PrefixListsLikeTheLocalFolder) {
  auto local =
      FileDataset::FromImageFolder((dir_ / "folder").string(), FileDataset::DefaultExtensions());
  ASSERT_TRUE(local.ok()) << local.status();
  auto store = MakeStore(FastStore(s3rver_->Options()));
  // One page: s3rver 3.7 lists in its directory-walk order ("a/..." before "a-b/...", where S3
  // uses byte order) and resumes a page after the last key in byte order, so across pages it
  // would drop "a-b/x.png". Paging is tested in s3_client_test (s3rver without such names, and
  // a signature-checking server).
  auto remote =
      RemoteDataset::FromS3Prefix("data", "train", FileDataset::DefaultExtensions(), store);
  ASSERT_TRUE(remote.ok()) << remote.status();
  std::string listings;
  for (int64_t i = 0; i < (*local)->size(); ++i) absl::StrAppend(&listings, " ", (*local)->path(i));
  absl::StrAppend(&listings, " |");
  for (int64_t i = 0; i < (*remote)->size(); ++i)
    absl::StrAppend(&listings, " ", (*remote)->url(i));
  ASSERT_EQ((*remote)->size(), (*local)->size()) << listings;
  EXPECT_EQ((*remote)->classes(), (*local)->classes());
  EXPECT_THAT((*remote)->classes(), ElementsAre("a", "a-b", "class 3", "z"));
  for (int64_t i = 0; i < (*local)->size(); ++i) {
    EXPECT_EQ((*remote)->url(i), absl::StrCat("s3://data/train/", (*local)->path(i))) << i;
    EXPECT_EQ((*remote)->label(i), (*local)->label(i)) << i;
  }
  EXPECT_EQ((*remote)->url(0), "s3://data/train/a/10.jpg");
  EXPECT_TRUE((*remote)->CheckReachable().ok());
  // Listings differ from store to store only if their objects do.
  auto again =
      RemoteDataset::FromS3Prefix("data", "train/", FileDataset::DefaultExtensions(), store);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->ContentFingerprint(), (*remote)->ContentFingerprint());
}

TEST_F(RemoteDatasetS3Test, MissingBucketAndWrongCredentialsRefuseClearly) {
  auto store = MakeStore(FastStore(s3rver_->Options()));
  auto missing = RemoteDataset::FromS3Prefix("nobucket", "train", {"jpg"}, store);
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_THAT(missing.status().message(), HasSubstr("s3://nobucket/train/"));
  EXPECT_THAT(missing.status().message(), HasSubstr("the bucket does not exist"));

  io::S3Options wrong = s3rver_->Options();
  wrong.credentials.access_key_id = "NOT-A-KEY";
  auto denied = RemoteDataset::FromS3Prefix("data", "train", {"jpg"}, MakeStore(FastStore(wrong)));
  EXPECT_TRUE(absl::IsPermissionDenied(denied.status())) << denied.status();
  EXPECT_THAT(denied.status().message(), HasSubstr("access denied"));

  auto empty = RemoteDataset::FromS3Prefix("data", "nothing-here", {"jpg"}, store);
  EXPECT_TRUE(absl::IsInvalidArgument(empty.status()));
  EXPECT_THAT(empty.status().message(), HasSubstr("no class folders"));
  auto filtered = RemoteDataset::FromS3Prefix("data", "train", {"gif"}, store);
  EXPECT_THAT(filtered.status().message(), HasSubstr("no objects with extension gif"));
}

}  // namespace
}  // namespace dataloader::server
