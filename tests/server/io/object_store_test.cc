// Copyright 2026 The dataloader Authors.

#include "server/io/object_store.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/io/s3rver.h"
#include "tests/server/io/test_http_server.h"

namespace dataloader::server::io {
namespace {

using ::dataloader::server::testing::S3rver;
using ::dataloader::server::testing::TestHttpServer;
using ::testing::HasSubstr;

ObjectStoreOptions Fast(std::optional<S3Options> s3 = std::nullopt) {
  ObjectStoreOptions options;
  options.http.retry = {.max_attempts = 2,
                        .initial_backoff = absl::Milliseconds(5),
                        .max_backoff = absl::Milliseconds(10)};
  options.s3 = std::move(s3);
  return options;
}

std::string Text(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST(ObjectStoreTest, ParseS3Url) {
  absl::StatusOr<std::pair<std::string, std::string>> parsed = ParseS3Url("s3://b/k/e y.jpg");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->first, "b");
  EXPECT_EQ(parsed->second, "k/e y.jpg");
  for (const char* bad : {"s3://", "s3://bucket", "s3://bucket/", "s3:///key", "http://b/k"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseS3Url(bad).status())) << bad;
  }
}

TEST(ObjectStoreTest, ReadsHttpObjectsAndMapsErrors) {
  auto server = *TestHttpServer::Start([](const TestHttpServer::Request& request) {
    if (request.path == "/missing") return TestHttpServer::Response{.status = 404};
    if (request.path == "/secret") return TestHttpServer::Response{.status = 403};
    return TestHttpServer::Bytes(request, "abcdefgh");
  });
  auto store = *ObjectStore::Create(Fast());
  absl::StatusOr<std::vector<uint8_t>> bytes = store->ReadAndWait(server->Url("/a.jpg"), {});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(Text(*bytes), "abcdefgh");
  bytes = store->ReadAndWait(server->Url("/a.jpg"), {.range = ByteRange{.offset = 2, .length = 3}});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(Text(*bytes), "cde");
  EXPECT_TRUE(absl::IsNotFound(store->ReadAndWait(server->Url("/missing"), {}).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(store->ReadAndWait(server->Url("/secret"), {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      store->ReadAndWait(server->Url("/a.jpg"), {.max_bytes = 4}).status()));
  server->Stop();
  EXPECT_TRUE(absl::IsUnavailable(store->ReadAndWait(server->Url("/a.jpg"), {}).status()));
}

TEST(ObjectStoreTest, S3UrlsNeedS3Options) {
  auto store = *ObjectStore::Create(Fast());
  absl::StatusOr<std::vector<uint8_t>> bytes = store->ReadAndWait("s3://bucket/key", {});
  EXPECT_TRUE(absl::IsInvalidArgument(bytes.status()));
  EXPECT_THAT(bytes.status().message(), HasSubstr("no s3 options"));
  EXPECT_TRUE(absl::IsInvalidArgument(store->ReadAndWait("ftp://x/y", {}).status()));
}

TEST(ObjectStoreTest, ReadsS3ObjectsFromARealS3Server) {
  absl::StatusOr<std::unique_ptr<S3rver>> s3rver = S3rver::Start("data");
  ASSERT_TRUE(s3rver.ok()) << s3rver.status();
  ASSERT_TRUE((*s3rver)->Put("data", "train/dog/1.jpg", "woof").ok());
  auto store = *ObjectStore::Create(Fast((*s3rver)->Options()));
  absl::StatusOr<std::vector<uint8_t>> bytes = store->ReadAndWait("s3://data/train/dog/1.jpg", {});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(Text(*bytes), "woof");
  bytes = store->ReadAndWait("s3://data/train/dog/2.jpg", {});
  EXPECT_TRUE(absl::IsNotFound(bytes.status())) << bytes.status();
  EXPECT_THAT(bytes.status().message(), HasSubstr("NoSuchKey"));
}

}  // namespace
}  // namespace dataloader::server::io
