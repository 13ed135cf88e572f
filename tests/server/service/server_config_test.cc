// Copyright 2026 The dataloader Authors.
//
// Config loading: every bad value is an error naming the pipeline, field and value, never a
// crash, a hang or a silently narrowed number. Remote sources (url_list, s3_prefix) are
// listed and checked at start-up against a real S3 API server (s3rver); a missing bucket or
// refused credentials refuse the pipeline with a clear message that never holds the secret.
#include "server/service/server_config.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "server/pipeline/remote_dataset.h"
#include "server/pipeline/sequential_dataset.h"
#include "tests/server/io/s3rver.h"
#include "tests/server/ops/test_ops.h"

namespace dataloader::server {
namespace {

using ::testing::HasSubstr;

// ToDefinitions' error for a pipeline "p" with `fields` (text format) and `stages`.
std::string ErrorOf(const std::string& fields, const std::string& stages = "") {
  v1::ServerConfig config;
  const std::string text =
      absl::StrCat("pipelines { name: 'p' synthetic { num_samples: 10 } batch_size: 2 ", fields,
                   " ", stages, " }");
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
  absl::StatusOr<std::vector<PipelineDefinition>> definitions =
      ToDefinitions(config, dataloader::testing::BuiltinOps());
  EXPECT_FALSE(definitions.ok()) << text;
  EXPECT_TRUE(absl::IsInvalidArgument(definitions.status())) << definitions.status();
  return std::string(definitions.status().message());
}

TEST(ServerConfigTest, IntegersPastWhatTheServerUsesAreErrorsNotNarrowed) {
  EXPECT_THAT(ErrorOf("", "stages { op: 'cpu_cost' concurrency: 2000000000 }"),
              HasSubstr("pipeline 'p': stages[0] (cpu_cost).concurrency must be <= 65536, got "
                        "2000000000"));
  EXPECT_THAT(ErrorOf("load_concurrency: 4294967295"),
              HasSubstr("pipeline 'p': load_concurrency must be <= 65536, got 4294967295"));
  EXPECT_THAT(ErrorOf("sink_buffer: 100000"),
              HasSubstr("pipeline 'p': sink_buffer must be <= 1024, got 100000"));
  EXPECT_THAT(ErrorOf("max_failures: 18446744073709551615"),
              HasSubstr("pipeline 'p': max_failures must be <= 9223372036854775807"));
  EXPECT_THAT(ErrorOf("", "stages { op: 'cpu_cost' max_failures: 9223372036854775808 }"),
              HasSubstr("pipeline 'p': stages[0] (cpu_cost).max_failures must be <="));
}

TEST(ServerConfigTest, NumbersThatAreNotFiniteAreRefused) {
  for (const char* value : {"nan", "inf", "-inf"}) {
    EXPECT_THAT(ErrorOf("", absl::StrCat("stages { op: 'latency' args { key: 'millis' value: '",
                                         value, "' } }")),
                HasSubstr("op 'latency': argument 'millis' must be a finite number"));
    EXPECT_THAT(ErrorOf("", absl::StrCat("stages { op: 'normalize' args { key: 'std' value: '",
                                         value, "' } }")),
                HasSubstr("op 'normalize': argument 'std' must be finite numbers"));
  }
}

TEST(ServerConfigTest, SyntheticSizesAreBounded) {
  v1::ServerConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "pipelines { name: 'p' synthetic { num_samples: 9223372036854775808 } batch_size: 2 }",
      &config));
  EXPECT_THAT(ToDefinitions(config, dataloader::testing::BuiltinOps()).status().message(),
              HasSubstr("synthetic.num_samples must be <="));
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "pipelines { name: 'p' synthetic { height: 60000 width: 60000 channels: 4 } batch_size: 2 }",
      &config));
  EXPECT_THAT(ToDefinitions(config, dataloader::testing::BuiltinOps()).status().message(),
              HasSubstr("60000x60000x4 = 14400000000 bytes per sample, over the limit"));
}

namespace fs = std::filesystem;
using ::dataloader::server::testing::S3rver;
using ::testing::Not;

class ServerConfigRemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    char pattern[] = "/tmp/server_config_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    absl::StatusOr<std::unique_ptr<S3rver>> started = S3rver::Start("data");
    ASSERT_TRUE(started.ok()) << started.status();
    s3rver_ = *std::move(started);
    for (const char* key : {"train/cat/1.jpg", "train/cat/2.jpg", "train/dog/1.jpg"}) {
      ASSERT_TRUE(s3rver_->Put("data", key, "not really a jpeg").ok());
    }
    credentials_ = (dir_ / "credentials").string();
    std::ofstream(credentials_) << "[default]\naws_access_key_id = S3RVER\n"
                                   "aws_secret_access_key = S3RVER\n"
                                   "[wrong]\naws_access_key_id = NOBODY\n"
                                   "aws_secret_access_key = TopSecretValue\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  absl::StatusOr<std::vector<PipelineDefinition>> Convert(const std::string& text) {
    v1::ServerConfig config;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
    return ToDefinitions(config, dataloader::testing::BuiltinOps());
  }
  std::string S3Block(const std::string& profile = "default") {
    return absl::StrCat("s3 { endpoint: '", s3rver_->endpoint(),
                        "' path_style: true credentials_file: '", credentials_, "' profile: '",
                        profile, "' }");
  }

  fs::path dir_;
  std::string credentials_;
  std::unique_ptr<S3rver> s3rver_;
};

TEST_F(ServerConfigRemoteTest, S3PrefixSourceIsListedAtStartUp) {
  absl::StatusOr<std::vector<PipelineDefinition>> definitions = Convert(absl::StrCat(
      "pipelines { name: 'remote' batch_size: 2 s3_prefix { bucket: 'data' prefix: 'train' ",
      S3Block(), " http { max_attempts: 2 } } stages { op: 'read_url' concurrency: 8 } }"));
  ASSERT_TRUE(definitions.ok()) << definitions.status();
  ASSERT_EQ(definitions->size(), 1u);
  const auto* dataset = dynamic_cast<const RemoteDataset*>((*definitions)[0].dataset.get());
  ASSERT_NE(dataset, nullptr);
  EXPECT_EQ(dataset->size(), 3);
  EXPECT_EQ(dataset->url(2), "s3://data/train/dog/1.jpg");
  EXPECT_EQ(dataset->label(2), 1);
  EXPECT_EQ(dataset->store().http().options().retry.max_attempts, 2);
}

TEST_F(ServerConfigRemoteTest, MissingBucketRefusesThePipeline) {
  absl::StatusOr<std::vector<PipelineDefinition>> definitions = Convert(absl::StrCat(
      "pipelines { name: 'remote' batch_size: 2 s3_prefix { bucket: 'nobucket' prefix: 'train' ",
      S3Block(), " } stages { op: 'read_url' } }"));
  EXPECT_TRUE(absl::IsNotFound(definitions.status())) << definitions.status();
  EXPECT_THAT(definitions.status().message(),
              HasSubstr("pipeline 'remote': source: listing s3://nobucket/train/"));
  EXPECT_THAT(definitions.status().message(), HasSubstr("the bucket does not exist"));
}

TEST_F(ServerConfigRemoteTest, RefusedCredentialsRefuseThePipelineWithoutTheSecret) {
  absl::StatusOr<std::vector<PipelineDefinition>> definitions =
      Convert(absl::StrCat("pipelines { name: 'remote' batch_size: 2 s3_prefix { bucket: 'data' ",
                           S3Block("wrong"), " } stages { op: 'read_url' } }"));
  EXPECT_TRUE(absl::IsPermissionDenied(definitions.status())) << definitions.status();
  EXPECT_THAT(definitions.status().message(), HasSubstr("InvalidAccessKeyId"));
  EXPECT_THAT(definitions.status().message(), Not(HasSubstr("TopSecretValue")));
}

TEST_F(ServerConfigRemoteTest, CredentialsFromTheEnvironment) {
  setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
  absl::StatusOr<std::vector<PipelineDefinition>> definitions = Convert(absl::StrCat(
      "pipelines { name: 'remote' batch_size: 2 s3_prefix { bucket: 'data' s3 { endpoint: '",
      s3rver_->endpoint(), "' path_style: true } } stages { op: 'read_url' } }"));
  EXPECT_TRUE(definitions.ok()) << definitions.status();
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  definitions = Convert(absl::StrCat(
      "pipelines { name: 'remote' batch_size: 2 s3_prefix { bucket: 'data' s3 { endpoint: '",
      s3rver_->endpoint(), "' path_style: true } } stages { op: 'read_url' } }"));
  EXPECT_TRUE(absl::IsNotFound(definitions.status())) << definitions.status();
  EXPECT_THAT(definitions.status().message(), HasSubstr("no S3 credentials"));
}

TEST_F(ServerConfigRemoteTest, UrlListSource) {
  const std::string list = (dir_ / "urls.txt").string();
  std::ofstream(list) << "s3://data/train/cat/1.jpg 0\ns3://data/train/dog/1.jpg 1\n";
  absl::StatusOr<std::vector<PipelineDefinition>> definitions =
      Convert(absl::StrCat("pipelines { name: 'urls' batch_size: 2 url_list { list_file: '", list,
                           "' ", S3Block(), " } stages { op: 'read_url' } }"));
  ASSERT_TRUE(definitions.ok()) << definitions.status();
  EXPECT_EQ((*definitions)[0].dataset->size(), 2);

  definitions =
      Convert(absl::StrCat("pipelines { name: 'urls' batch_size: 2 url_list { list_file: '", list,
                           "' } stages { op: 'read_url' } }"));
  EXPECT_TRUE(absl::IsInvalidArgument(definitions.status()));
  EXPECT_THAT(definitions.status().message(), HasSubstr("no s3 options"));

  definitions =
      Convert(absl::StrCat("pipelines { name: 'urls' batch_size: 2 url_list { list_file: '", list,
                           "' ", S3Block(), " } stages { op: 'read_file' } }"));
  EXPECT_TRUE(absl::IsInvalidArgument(definitions.status()));
  EXPECT_THAT(definitions.status().message(), HasSubstr("read_file"));
}

TEST_F(ServerConfigRemoteTest, UnreachableStoreRefusesThePipeline) {
  const std::string endpoint = s3rver_->endpoint();
  s3rver_->Kill();
  absl::StatusOr<std::vector<PipelineDefinition>> definitions = Convert(absl::StrCat(
      "pipelines { name: 'remote' batch_size: 2 s3_prefix { bucket: 'data' s3 { endpoint: '",
      endpoint, "' path_style: true credentials_file: '", credentials_,
      "' } http { max_attempts: 2 initial_backoff_ms: 5 } } stages { op: 'read_url' } }"));
  EXPECT_TRUE(absl::IsUnavailable(definitions.status())) << definitions.status();
  EXPECT_THAT(definitions.status().message(), HasSubstr("pipeline 'remote'"));
}

TEST_F(ServerConfigRemoteTest, TheExampleS3ConfigServesAPrefixOfTheStore) {
  // deploy/pipelines/imagenet_train_s3.textproto, pointed at this test's s3rver.
  absl::StatusOr<v1::ServerConfig> config = ReadServerConfig(
      std::string(DL_SOURCE_DIR) + "/deploy/pipelines/imagenet_train_s3.textproto");
  ASSERT_TRUE(config.ok()) << config.status();
  v1::S3PrefixSource& source = *config->mutable_pipelines(0)->mutable_s3_prefix();
  source.set_bucket("data");
  source.set_prefix("train");
  source.mutable_s3()->set_endpoint(s3rver_->endpoint());
  source.mutable_s3()->set_credentials_file(credentials_);
  absl::StatusOr<std::vector<PipelineDefinition>> definitions =
      ToDefinitions(*config, dataloader::testing::BuiltinOps());
  ASSERT_TRUE(definitions.ok()) << definitions.status();
  EXPECT_EQ((*definitions)[0].dataset->size(), 3);
  EXPECT_EQ((*definitions)[0].stages[0].op, "read_url");
}

// A tar of `members` (name, bytes), as bytes.
std::string TarOf(const std::vector<std::pair<std::string, std::string>>& members) {
  std::vector<char> buffer(1 << 20);
  size_t used = 0;
  archive* out = archive_write_new();
  archive_write_set_format_pax_restricted(out);
  archive_write_open_memory(out, buffer.data(), buffer.size(), &used);
  for (const auto& [name, bytes] : members) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(bytes.size()));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_write_header(out, entry);
    archive_write_data(out, bytes.data(), bytes.size());
    archive_entry_free(entry);
  }
  archive_write_close(out);
  archive_write_free(out);
  return std::string(buffer.data(), used);
}

TEST_F(ServerConfigRemoteTest, TarShardsFromS3) {
  const std::string shard = TarOf({{"a.jpg", "first image"},
                                   {"a.cls", "4"},
                                   {"b.png", "second image"},
                                   {"b.cls", "7"},
                                   {"c.jpg", "third image"}});
  ASSERT_TRUE(s3rver_->Put("data", "shards/s-0.tar", shard).ok());
  ASSERT_TRUE(
      s3rver_
          ->Put("data", "shards/manifest", absl::StrCat("s-0.tar 3 ", shard.size(), "\ntotal 3\n"))
          .ok());
  absl::StatusOr<std::vector<PipelineDefinition>> definitions = Convert(
      absl::StrCat("pipelines { name: 'shards' batch_size: 2 shuffle: false tar_shards { manifest: "
                   "'s3://data/shards/manifest' shuffle_buffer: 2 range_bytes: 1024 ",
                   S3Block(), " } }"));
  ASSERT_TRUE(definitions.ok()) << definitions.status();
  const PipelineDefinition& definition = (*definitions)[0];
  EXPECT_EQ(definition.dataset->size(), 3);
  const SequentialDataset* shards = definition.dataset->sequential();
  ASSERT_NE(shards, nullptr);
  auto stream = shards->OpenStream({.shard_count = 1, .shuffle = false, .end_sample = 3});
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::vector<std::string> images;
  std::vector<int64_t> labels;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::optional<SequentialItem>> item = (*stream)->Next();
    ASSERT_TRUE(item.ok() && item->has_value());
    ASSERT_TRUE((*item)->sample.ok()) << (*item)->sample.status();
    Sample& sample = *(*item)->sample;
    images.emplace_back((*sample.Find("encoded"))->data.begin(),
                        (*sample.Find("encoded"))->data.end());
    int64_t label = 0;
    std::memcpy(&label, (*sample.Find("label"))->data.data(), sizeof label);
    labels.push_back(label);
  }
  EXPECT_EQ(images, (std::vector<std::string>{"first image", "second image", "third image"}));
  EXPECT_EQ(labels, (std::vector<int64_t>{4, 7, -1}));
  EXPECT_FALSE((*(*stream)->Next()).has_value());
}

TEST_F(ServerConfigRemoteTest, BadTarShardsManifestNamesTheLine) {
  const std::string manifest = (dir_ / "manifest").string();
  std::ofstream(manifest) << "# shards\ns-0.tar 3 100\ns-1.tar three 100\ntotal 6\n";
  absl::StatusOr<std::vector<PipelineDefinition>> definitions = Convert(absl::StrCat(
      "pipelines { name: 'shards' batch_size: 2 tar_shards { manifest: '", manifest, "' } }"));
  EXPECT_TRUE(absl::IsInvalidArgument(definitions.status())) << definitions.status();
  EXPECT_THAT(definitions.status().message(),
              HasSubstr(absl::StrCat("pipeline 'shards': source: ", manifest, ":3:")));
  definitions = Convert(absl::StrCat("pipelines { name: 'shards' batch_size: 2 tar_shards { ",
                                     "manifest: '", manifest, "' range_bytes: 4000000000 } }"));
  EXPECT_THAT(definitions.status().message(),
              HasSubstr("tar_shards.range_bytes must be at most 268435456, got 4000000000"));
  definitions = Convert(absl::StrCat("pipelines { name: 'shards' batch_size: 2 tar_shards { ",
                                     "manifest: '", manifest, "' shuffle_buffer: 2000000 } }"));
  EXPECT_THAT(definitions.status().message(),
              HasSubstr("tar_shards.shuffle_buffer must be at most 1048576, got 2000000"));
  definitions = Convert(
      "pipelines { name: 'shards' batch_size: 2 tar_shards { manifest: '/nonexistent/m' } }");
  EXPECT_TRUE(absl::IsNotFound(definitions.status())) << definitions.status();
  EXPECT_THAT(definitions.status().message(), HasSubstr("/nonexistent/m"));
}

}  // namespace
}  // namespace dataloader::server
