// Copyright 2026 The dataloader Authors.
//
// Config loading: every bad value is an error naming the pipeline, field and value, never a
// crash, a hang or a silently narrowed number.
#include "server/service/server_config.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
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

}  // namespace
}  // namespace dataloader::server
