// Copyright 2026 The dataloader Authors.
//
// FailureLog: every failed sample counted by pipeline, stage and reason; named in a log line,
// rate-limited, escaped and capped; and end to end, a server's log names the files of a
// pipeline whose samples fail.
#include "server/service/failure_log.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/file_dataset.h"
#include "server/pipeline/synthetic_dataset.h"
#include "server/service/metrics.h"
#include "tests/server/ops/test_ops.h"
#include "tests/server/service/in_process_server.h"

namespace dataloader::server {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// What a log wrote, and a clock the test moves.
struct Captured {
  Mutex mu;
  std::vector<std::string> lines ABSL_GUARDED_BY(mu);
  absl::Time now ABSL_GUARDED_BY(mu) = absl::FromUnixSeconds(1'000'000);

  FailureLogOptions Options(double per_second, int burst) {
    return {.lines_per_second = per_second,
            .burst = burst,
            .write =
                [this](absl::string_view line) {
                  MutexLock lock(&mu);
                  lines.emplace_back(line);
                },
            .now =
                [this] {
                  MutexLock lock(&mu);
                  return now;
                }};
  }
  void Advance(absl::Duration by) {
    MutexLock lock(&mu);
    now += by;
  }
  std::vector<std::string> Lines() {
    MutexLock lock(&mu);
    return lines;
  }
};

PipelineDefinition Synthetic(const std::string& name) {
  return PipelineDefinition{.name = name,
                            .dataset = std::make_shared<SyntheticImageDataset>(
                                *SyntheticImageDataset::Create({.num_samples = 100}))};
}

void Fail(FailureReporter& reporter, absl::string_view stage, int64_t index,
          const absl::Status& status) {
  reporter.SampleFailed({.stage = stage, .sample_index = index, .status = status});
}

TEST(FailureLogTest, ABurstThenTheRateAndTheNextLineCountsWhatWasLeftOut) {
  Captured captured;
  auto metrics = *ServerMetrics::Create({});
  auto log = *FailureLog::Create(captured.Options(/*per_second=*/2, /*burst=*/3), metrics.get());
  std::shared_ptr<FailureReporter> reporter = log->ForPipeline(Synthetic("train"));
  for (int i = 0; i < 10; ++i) Fail(*reporter, "decode", i, absl::DataLossError("corrupt"));
  EXPECT_EQ(captured.Lines().size(), 3u);  // The burst.
  EXPECT_EQ(log->lines_suppressed(), 7);
  captured.Advance(absl::Milliseconds(500));  // One more line's worth.
  Fail(*reporter, "decode", 10, absl::DataLossError("corrupt"));
  Fail(*reporter, "decode", 11, absl::DataLossError("corrupt"));
  std::vector<std::string> lines = captured.Lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[3], HasSubstr("sample=10 "));
  EXPECT_THAT(lines[3], HasSubstr("(7 failures not logged before this one)"));
  captured.Advance(absl::Hours(1));  // The bucket refills to the burst, no more.
  for (int i = 12; i < 20; ++i) Fail(*reporter, "decode", i, absl::DataLossError("corrupt"));
  EXPECT_EQ(captured.Lines().size(), 7u);
  EXPECT_THAT(captured.Lines()[4], HasSubstr("(1 failures not logged before this one)"));
  EXPECT_EQ(log->lines_suppressed(), 7 + 1 + 5);

  // Every failure is counted, logged or not.
  const std::string scrape = metrics->Render();
  EXPECT_THAT(scrape, HasSubstr("dataloader_stage_sample_failures_total{code=\"DATA_LOSS\","
                                "pipeline=\"train\",stage=\"decode\"} 20"));
  EXPECT_THAT(scrape, HasSubstr("dataloader_failure_log_lines_suppressed_total 13"));
}

TEST(FailureLogTest, CountsByPipelineStageAndReason) {
  Captured captured;
  auto metrics = *ServerMetrics::Create({});
  auto log = *FailureLog::Create(captured.Options(0, 0), metrics.get());  // No lines at all.
  auto train = log->ForPipeline(Synthetic("train"));
  auto eval = log->ForPipeline(Synthetic("eval"));
  Fail(*train, "read", 1, absl::PermissionDeniedError("outside the root"));
  Fail(*train, "read", 2, absl::PermissionDeniedError("outside the root"));
  Fail(*train, "decode", 3, absl::InvalidArgumentError("not an image"));
  Fail(*eval, "decode", 3, absl::InvalidArgumentError("not an image"));
  EXPECT_TRUE(captured.Lines().empty());
  const std::string scrape = metrics->Render();
  EXPECT_THAT(scrape, AllOf(HasSubstr("{code=\"PERMISSION_DENIED\",pipeline=\"train\","
                                      "stage=\"read\"} 2"),
                            HasSubstr("{code=\"INVALID_ARGUMENT\",pipeline=\"train\","
                                      "stage=\"decode\"} 1"),
                            HasSubstr("{code=\"INVALID_ARGUMENT\",pipeline=\"eval\","
                                      "stage=\"decode\"} 1")));
}

TEST(FailureLogTest, LinesNameTheFileAndAreOneEscapedBoundedLine) {
  const std::filesystem::path root =
      std::filesystem::path(::testing::TempDir()) / "failure_log_test_root";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root / "cls");
  const std::string odd_name = "a \"quoted\"\nname.jpg";
  std::ofstream(root / "cls" / odd_name) << "x";
  std::ofstream(root / "cls" / "plain.jpg") << "x";
  auto files = FileDataset::FromImageFolder(root.string(), {"jpg"});
  ASSERT_TRUE(files.ok()) << files.status();
  PipelineDefinition definition{.name = "imgs", .dataset = std::move(*files)};

  Captured captured;
  auto log = *FailureLog::Create(captured.Options(10, 10), nullptr);
  auto reporter = log->ForPipeline(definition);
  Fail(*reporter, "decode", 1, absl::InvalidArgumentError("file 'cls/plain.jpg': decode_image: x"));
  Fail(*reporter, "decode", 0, absl::InvalidArgumentError(std::string(5000, 'e') + "\n\x01"));
  std::vector<std::string> lines = captured.Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "sample failed: pipeline=imgs stage=decode sample=1 file=\"cls/plain.jpg\" "
            "code=INVALID_ARGUMENT error=\"file 'cls/plain.jpg': decode_image: x\"");
  EXPECT_THAT(lines[1], HasSubstr("file=\"cls/a \\\"quoted\\\"\\nname.jpg\""));
  EXPECT_THAT(lines[1], HasSubstr("...(5002 bytes)"));
  Fail(*reporter, "decode", 1, absl::DataLossError("\x1b[2Jcleared \\ \"x\""));
  EXPECT_THAT(captured.Lines().back(), HasSubstr("error=\"\\x1b[2Jcleared \\\\ \\\"x\\\"\""));
  EXPECT_THAT(lines[1], Not(HasSubstr("\n")));
  EXPECT_LT(lines[1].size(), 1400u);

  // A synthetic sample has no file: the line names its index only.
  auto synthetic = log->ForPipeline(Synthetic("gen"));
  Fail(*synthetic, "load", 7, absl::OutOfRangeError("no sample 7"));
  EXPECT_EQ(captured.Lines().back(),
            "sample failed: pipeline=gen stage=load sample=7 code=OUT_OF_RANGE "
            "error=\"no sample 7\"");
  std::filesystem::remove_all(root);
}

TEST(FailureLogTest, ReportersOutlivingTheLogDoNothingAndOptionsAreChecked) {
  Captured captured;
  auto metrics = *ServerMetrics::Create({});
  auto log = *FailureLog::Create(captured.Options(10, 10), metrics.get());
  std::shared_ptr<FailureReporter> reporter = log->ForPipeline(Synthetic("train"));
  log.reset();
  Fail(*reporter, "decode", 1, absl::DataLossError("late"));
  EXPECT_TRUE(captured.Lines().empty());
  EXPECT_THAT(metrics->Render(), Not(HasSubstr("dataloader_stage_sample_failures_total{")));

  EXPECT_THAT(FailureLog::Create({.lines_per_second = -1}, nullptr).status().message(),
              HasSubstr("lines_per_second must be a finite number >= 0, got -1"));
  EXPECT_THAT(FailureLog::Create({.lines_per_second = std::nan("")}, nullptr).status().message(),
              HasSubstr("lines_per_second must be a finite number >= 0, got nan"));
  EXPECT_THAT(FailureLog::Create({.lines_per_second = 5, .burst = 0}, nullptr).status().message(),
              HasSubstr("burst must be >= 1, got 0"));
}

// End to end: a server's streams report their failed samples to its log and metrics.
TEST(FailureLogTest, AServerNamesEveryFailedSampleOfAStreamInItsLog) {
  Captured captured;
  server::DataLoaderServerOptions options{.ops = &dataloader::testing::TestOps(),
                                          .threads = 2,
                                          .log_streams = false,
                                          .failure_log = captured.Options(1000, 1000)};
  dataloader::testing::InProcessServer server(R"pb(
                                                pipelines {
                                                  name: "broken"
                                                  synthetic { num_samples: 30 }
                                                  stages {
                                                    name: "check"
                                                    op: "fail_every"
                                                    args { key: "every" value: "3" }
                                                  }
                                                  batch_size: 4
                                                  shuffle: false
                                                }
                                              )pb",
                                              0, options);
  v1::StreamBatchesRequest request;
  request.set_pipeline("broken");
  grpc::ClientContext context;
  auto reader = server.Stub()->StreamBatches(&context, request);
  v1::Batch batch;
  int samples = 0;
  while (reader->Read(&batch)) samples += batch.sample_ids_size();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(samples, 20);
  // The probe's failure (sample 0) is not logged; the stream's ten are, each once.
  std::vector<std::string> lines = captured.Lines();
  ASSERT_EQ(lines.size(), 10u) << absl::StrJoin(lines, "\n");
  for (int index = 0; index < 30; index += 3) {
    EXPECT_EQ(std::count(lines.begin(), lines.end(),
                         absl::StrCat("sample failed: pipeline=broken stage=check sample=", index,
                                      " code=DATA_LOSS error=\"sample ", index, " is corrupt\"")),
              1)
        << index;
  }
}

}  // namespace
}  // namespace dataloader::server
