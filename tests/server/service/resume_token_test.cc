// Copyright 2026 The dataloader Authors.
//
// Resume tokens: what they resume, what they refuse, and which config changes keep them valid.
#include "server/service/resume_token.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/pipeline_definition.h"
#include "server/pipeline/synthetic_dataset.h"

namespace dataloader::server {
namespace {

using ::testing::HasSubstr;

StreamIdentity Stream() {
  return {.pipeline = "train",
          .content = 42,
          .shard_index = 1,
          .shard_count = 4,
          .epoch = 3,
          .seed = 7};
}

TEST(ResumeTokenTest, ResumesTheSameStreamAtTheNextBatch) {
  const std::string token = ResumeToken(Stream(), 8);
  EXPECT_EQ(token, ResumeToken(Stream(), 8));  // Deterministic bytes.
  absl::StatusOr<int64_t> next = ResumeSequence(Stream(), token);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 8);
}

TEST(ResumeTokenTest, RefusesOtherStreamsContentAndGarbage) {
  const std::string token = ResumeToken(Stream(), 8);
  StreamIdentity other_shard = Stream();
  other_shard.shard_index = 2;
  EXPECT_THAT(ResumeSequence(other_shard, token).status().message(),
              HasSubstr("was issued for pipeline 'train' shard 1/4 epoch 3 seed 7, not for this "
                        "request (pipeline 'train' shard 2/4"));
  StreamIdentity other_content = Stream();
  other_content.content = 43;
  EXPECT_THAT(ResumeSequence(other_content, token).status().message(),
              HasSubstr("issued for other content of pipeline 'train'"));
  for (std::string garbage : {std::string("nope"), std::string(), token.substr(1)}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ResumeSequence(Stream(), garbage).status()));
  }
  std::string flipped = token;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_THAT(ResumeSequence(Stream(), flipped).status().message(),
              HasSubstr("not a resume token of this service"));
}

// Tokens are bound to what determines the bytes and nothing else.
TEST(ResumeTokenTest, ContentFingerprintIgnoresTuningAndFollowsTheBytes) {
  auto dataset = std::make_shared<SyntheticImageDataset>(
      *SyntheticImageDataset::Create({.num_samples = 100, .height = 8, .width = 8}));
  const PipelineDefinition base{
      .name = "train",
      .description = "one",
      .dataset = dataset,
      .stages = {{.name = "b", .op = "random_brightness", .args = {{"max_delta", "8"}}}},
      .batch_size = 16};
  const uint64_t fingerprint = ContentFingerprint(base);

  PipelineDefinition retuned = base;
  retuned.description = "two";
  retuned.stages[0].name = "renamed";
  retuned.stages[0].concurrency = 64;
  retuned.stages[0].output_order = OutputOrder::kCompletion;
  retuned.stages[0].max_failures = 3;
  retuned.load_concurrency = 16;
  retuned.sink_buffer = 32;
  retuned.max_failures = 100;
  EXPECT_EQ(ContentFingerprint(retuned), fingerprint);

  auto changed = [&](auto&& change) {
    PipelineDefinition copy = base;
    change(copy);
    return ContentFingerprint(copy) != fingerprint;
  };
  EXPECT_TRUE(changed([](PipelineDefinition& d) { d.batch_size = 17; }));
  EXPECT_TRUE(changed([](PipelineDefinition& d) { d.shuffle = false; }));
  EXPECT_TRUE(changed([](PipelineDefinition& d) { d.drop_last = true; }));
  EXPECT_TRUE(changed([](PipelineDefinition& d) { d.stages[0].args["max_delta"] = "9"; }));
  EXPECT_TRUE(changed([](PipelineDefinition& d) { d.stages[0].op = "normalize"; }));
  EXPECT_TRUE(changed([](PipelineDefinition& d) { d.stages.push_back(d.stages[0]); }));
  EXPECT_TRUE(changed([](PipelineDefinition& d) {
    d.dataset = std::make_shared<SyntheticImageDataset>(
        *SyntheticImageDataset::Create({.num_samples = 101, .height = 8, .width = 8}));
  }));
}

}  // namespace
}  // namespace dataloader::server
