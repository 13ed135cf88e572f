// Copyright 2026 The dataloader Authors.
//
// FaultBadFilesTest: a real dataloader_server streams a dataset with a catalogue of bad files
// among good ones (empty, text, truncated, corrupt, decompression bombs, a GIF, a FIFO, a
// symlink out of the root, a directory, a missing file, one over read_file's size cap) and of
// unusual good ones (16-bit, CMYK, progressive, interlaced, palette, alpha). Every bad file
// is named in the server's log (file, stage, reason) and counted in its metrics; the stream
// goes on to its end within its failure budget, and one file more than the budget ends it.
// A flood of bad files makes a rate-limited log, with every failure still counted.
// The fixtures are tests/data/images (made by make_fixtures.py); the FIFO, the symlink and the
// directory are made here, as git does not keep them.
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/subprocess.h"
#include "tests/faults/fault_util.h"

namespace dataloader::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kImages = fs::path(DL_TEST_DATA_DIR) / "images";

struct BadFile {
  std::string path;   // Relative to the dataset root.
  std::string stage;  // The stage it fails in.
  std::string code;   // And why.
};

// Good files: decodable, if unusual; all 61x45, so they batch together.
const std::vector<std::string> kGood = {"rgb_420.jpg", "rgb_444.jpg", "progressive.jpg", "gray.jpg",
                                        "cmyk.jpg",    "rgb.png",     "rgba.png",        "gray.png",
                                        "palette.png", "gray16.png",  "interlaced.png"};

const std::vector<BadFile> kBad = {
    {"bad/zero_bytes.jpg", "decode_image", "INVALID_ARGUMENT"},
    {"bad/not_an_image.jpg", "decode_image", "INVALID_ARGUMENT"},
    {"bad/truncated.jpg", "decode_image", "INVALID_ARGUMENT"},
    {"bad/corrupt.jpg", "decode_image", "INVALID_ARGUMENT"},
    {"bad/truncated.png", "decode_image", "INVALID_ARGUMENT"},
    {"bad/corrupt.png", "decode_image", "INVALID_ARGUMENT"},
    {"bad/bomb.jpg", "decode_image", "INVALID_ARGUMENT"},
    {"bad/bomb.png", "decode_image", "INVALID_ARGUMENT"},
    {"bad/unsupported.gif", "decode_image", "INVALID_ARGUMENT"},
    {"bad/fifo.jpg", "read_file", "INVALID_ARGUMENT"},
    {"bad/escape.jpg", "read_file", "PERMISSION_DENIED"},
    {"bad/directory.jpg", "read_file", "INVALID_ARGUMENT"},
    {"bad/missing.jpg", "read_file", "NOT_FOUND"},
    {"bad/too_big.jpg", "read_file", "INVALID_ARGUMENT"},
};

// The dataset: root/good/..., root/bad/..., a list file naming them all (bad ones first, so
// the server's start-up probe meets them too), and a JPEG outside the root for the symlink.
struct Catalogue {
  fs::path dir;
  std::string config;
};

Catalogue MakeCatalogue() {
  Catalogue catalogue{.dir = FreshDirectory("bad_files_test"), .config = ""};
  const fs::path root = catalogue.dir / "root";
  fs::create_directories(root / "good");
  fs::create_directories(root / "bad");
  for (const std::string& name : kGood) fs::copy_file(kImages / name, root / "good" / name);
  for (const char* name :
       {"zero_bytes.jpg", "not_an_image.jpg", "truncated.jpg", "corrupt.jpg", "truncated.png",
        "corrupt.png", "bomb.jpg", "bomb.png", "unsupported.gif"}) {
    fs::copy_file(kImages / name, root / "bad" / name);
  }
  EXPECT_EQ(mkfifo((root / "bad" / "fifo.jpg").c_str(), 0644), 0);
  fs::copy_file(kImages / "rgb_420.jpg", catalogue.dir / "outside.jpg");
  fs::create_symlink("../../outside.jpg", root / "bad" / "escape.jpg");
  fs::create_directories(root / "bad" / "directory.jpg");
  // A good JPEG with 200 KiB of padding after its end: over the 64 KiB cap below.
  WriteFile(root / "bad" / "too_big.jpg",
            ReadWholeFile((kImages / "rgb_420.jpg").string()) + std::string(200 << 10, '\0'));

  std::string list;
  for (const BadFile& bad : kBad) absl::StrAppend(&list, bad.path, " 1\n");
  for (const std::string& name : kGood) absl::StrAppend(&list, "good/", name, " 0\n");
  WriteFile(catalogue.dir / "list.txt", list);
  // A flood: one good file, then the corrupt one 300 times.
  std::string flood = "good/rgb_420.jpg 0\n";
  for (int i = 0; i < 300; ++i) absl::StrAppend(&flood, "bad/corrupt.jpg 1\n");
  WriteFile(catalogue.dir / "flood.txt", flood);

  const auto pipeline = [&](const std::string& name, const std::string& list_file,
                            const std::string& budget) {
    return absl::StrCat(R"pb(
                          pipelines { name: ")pb",
                        name, R"pb("
                                   file_list { root: ")pb",
                        root.string(), R"pb(" list_file: ")pb", list_file,
                        R"pb(" }
                             stages {
                               op: "read_file"
                               args { key: "max_bytes" value: "65536" }
                               concurrency: 4
                             }
                             stages { op: "decode_image" concurrency: 2 }
                             batch_size: 4
                             shuffle: false
                        )pb",
                        budget, R"pb(
      })pb");
  };
  catalogue.config =
      WriteFile(catalogue.dir / "config.textproto",
                absl::StrCat(pipeline("catalogue", (catalogue.dir / "list.txt").string(),
                                      absl::StrCat("max_failures: ", kBad.size())),
                             pipeline("one_too_many", (catalogue.dir / "list.txt").string(),
                                      absl::StrCat("max_failures: ", kBad.size() - 1)),
                             pipeline("flood", (catalogue.dir / "flood.txt").string(), "")));
  return catalogue;
}

struct Streamed {
  grpc::Status status;
  std::vector<int64_t> samples;
};

Streamed StreamAll(const std::string& target, const std::string& pipeline) {
  auto stub = OwnConnectionStub(target);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::StreamBatchesRequest request;
  request.set_pipeline(pipeline);
  auto reader = stub->StreamBatches(&context, request);
  Streamed streamed;
  v1::Batch batch;
  while (reader->Read(&batch)) {
    streamed.samples.insert(streamed.samples.end(), batch.sample_ids().begin(),
                            batch.sample_ids().end());
  }
  streamed.status = reader->Finish();
  return streamed;
}

// The server's failure lines ("sample failed: ...") so far.
std::vector<std::string> FailureLines(const std::string& log_path) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(ReadWholeFile(log_path), '\n')) {
    if (absl::StartsWith(line, "sample failed: ")) lines.emplace_back(line);
  }
  return lines;
}

TEST(FaultBadFilesTest, EveryBadFileIsNamedInTheLogAndTheStreamGoesOnWithinItsBudget) {
  const Catalogue catalogue = MakeCatalogue();
  const std::string log = (catalogue.dir / "server.log").string();
  ServerProcess server(
      {absl::StrCat("--config=", catalogue.config), "--metrics_address=127.0.0.1:0"}, log);
  ASSERT_NE(server.port(), 0) << ReadWholeFile(log);

  Streamed streamed = StreamAll(server.target(), "catalogue");
  ASSERT_TRUE(streamed.status.ok()) << streamed.status.error_message();
  // Exactly the good files, in order, each once.
  std::vector<int64_t> good;
  for (size_t i = 0; i < kGood.size(); ++i) good.push_back(static_cast<int64_t>(kBad.size() + i));
  EXPECT_EQ(streamed.samples, good);

  // Each bad file named once, with its stage and reason; nothing else logged as failed.
  const std::vector<std::string> lines = FailureLines(log);
  EXPECT_EQ(lines.size(), kBad.size()) << absl::StrJoin(lines, "\n");
  for (size_t index = 0; index < kBad.size(); ++index) {
    const BadFile& bad = kBad[index];
    const std::string named =
        absl::StrCat("sample failed: pipeline=catalogue stage=", bad.stage, " sample=", index,
                     " file=\"", bad.path, "\" code=", bad.code, " error=\"file '", bad.path, "'");
    EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                            [&](const std::string& line) { return line.rfind(named, 0) == 0; }),
              1)
        << "expected one line starting with: " << named << "\nlog:\n"
        << absl::StrJoin(lines, "\n");
  }
  // And counted by stage and reason.
  const std::string scrape = HttpGet(server.metrics_port(), "/metrics");
  std::map<std::pair<std::string, std::string>, int> expected;
  for (const BadFile& bad : kBad) ++expected[{bad.stage, bad.code}];
  for (const auto& [key, count] : expected) {
    EXPECT_EQ(MetricSum(scrape, "dataloader_stage_sample_failures_total",
                        {R"(pipeline="catalogue")", absl::StrCat("stage=\"", key.first, "\""),
                         absl::StrCat("code=\"", key.second, "\"")}),
              count)
        << key.first << " " << key.second << "\n"
        << scrape;
  }

  // One failure over the budget ends the stream, with an error naming the stage.
  Streamed over = StreamAll(server.target(), "one_too_many");
  EXPECT_EQ(over.status.error_code(), grpc::StatusCode::ABORTED) << over.status.error_message();
  EXPECT_THAT(over.status.error_message(), HasSubstr("failure budget"));

  // The first stream's end line (written by then: a whole stream ran since) names the stage
  // that took most of the task time, with its share (regression: the share was an integer
  // division of two durations, so it read 0% unless one stage took everything).
  const std::string whole_log = ReadWholeFile(log);
  EXPECT_THAT(whole_log, ::testing::ContainsRegex(
                             "pipeline=catalogue .* busiest=[a-z_#0-9]+ \\([1-9][0-9]*% of task "
                             "time\\) .*status=OK"))
      << whole_log;
}

TEST(FaultBadFilesTest, AFloodOfBadFilesMakesABoundedLogAndIsCountedWhole) {
  const Catalogue catalogue = MakeCatalogue();
  const std::string log = (catalogue.dir / "server.log").string();
  ServerProcess server(
      {absl::StrCat("--config=", catalogue.config), "--metrics_address=127.0.0.1:0"}, log);
  const absl::Time start = absl::Now();
  Streamed streamed = StreamAll(server.target(), "flood");
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(streamed.status.ok()) << streamed.status.error_message();
  EXPECT_EQ(streamed.samples, std::vector<int64_t>{0});

  // The default limit: a burst of 20 lines, then 10 a second.
  const std::vector<std::string> lines = FailureLines(log);
  EXPECT_GE(lines.size(), 20u);
  EXPECT_LE(static_cast<double>(lines.size()), 20 + 10 * (absl::ToDoubleSeconds(took) + 1))
      << "in " << took;
  const std::string scrape = HttpGet(server.metrics_port(), "/metrics");
  EXPECT_EQ(MetricSum(scrape, "dataloader_stage_sample_failures_total", {R"(pipeline="flood")"}),
            300);
  EXPECT_EQ(MetricSum(scrape, "dataloader_failure_log_lines_suppressed_total"),
            300 - static_cast<double>(lines.size()));
}

}  // namespace
}  // namespace dataloader::testing
