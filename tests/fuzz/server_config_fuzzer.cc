// Copyright 2026 The dataloader Authors.
//
// Fuzzes the server's config loading as DataLoaderServer::Start does it: text-format
// dataloader.v1.ServerConfig -> ToDefinitions with the built-in op registry (names, sources,
// sizes, budgets, every op's declared arguments) -> pipeline definitions, then the batch
// count of a few shardings of each.
//
// Input: the config text, optionally followed by a line "@@list" and the contents of a list
// file. File sources are pinned to a small fixture folder made at start-up (two classes, a
// nested folder, a file without an image extension): image_folder and file_list roots are
// replaced by it, and a file_list's list_file by a file holding the input's list part, so
// that no run walks or reads anything else on the machine. Everything else is as given.
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/string_view.h"
#include "server/ops/builtin_ops.h"
#include "server/service/server_config.h"

namespace {

namespace fs = std::filesystem;
using dataloader::server::OpRegistry;

// Syntax errors are expected by the thousand: drop them instead of printing each.
class IgnoreErrors final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, int, const std::string&) override {}
};

struct Fixture {
  fs::path root;
  fs::path list_file;
  OpRegistry ops;
};

Fixture& TheFixture() {
  static Fixture* const fixture = [] {
    auto* made = new Fixture();
    char pattern[] = "/tmp/dataloader_config_fuzzer.XXXXXX";
    const char* dir = mkdtemp(pattern);
    if (dir == nullptr) std::abort();
    made->root = fs::path(dir) / "root";
    for (const char* file : {"a/1.jpg", "a/2.JPEG", "b/c/3.png", "b/4.txt"}) {
      fs::create_directories((made->root / file).parent_path());
      std::ofstream(made->root / file) << "x";
    }
    made->list_file = fs::path(dir) / "list.txt";
    if (!dataloader::server::RegisterBuiltinOps(made->ops).ok()) std::abort();
    return made;
  }();
  return *fixture;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // Protobuf's warnings about odd text.
  TheFixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& fixture = TheFixture();
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t marker = input.find("\n@@list\n");
  const absl::string_view text = input.substr(0, marker);

  dataloader::v1::ServerConfig config;
  google::protobuf::TextFormat::Parser parser;
  IgnoreErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) return 0;

  bool lists = false;
  for (dataloader::v1::PipelineConfig& pipeline : *config.mutable_pipelines()) {
    if (pipeline.has_image_folder()) {
      pipeline.mutable_image_folder()->set_root(fixture.root.string());
    } else if (pipeline.has_file_list()) {
      pipeline.mutable_file_list()->set_root(fixture.root.string());
      pipeline.mutable_file_list()->set_list_file(fixture.list_file.string());
      lists = true;
    }
  }
  if (lists) {
    std::ofstream list(fixture.list_file, std::ios::binary | std::ios::trunc);
    if (marker != absl::string_view::npos) {
      const absl::string_view contents = input.substr(marker + 8);
      list.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    }
  }

  absl::StatusOr<std::vector<dataloader::server::PipelineDefinition>> definitions =
      dataloader::server::ToDefinitions(config, fixture.ops);
  if (!definitions.ok()) return 0;
  for (const dataloader::server::PipelineDefinition& definition : *definitions) {
    for (int64_t shards : {1, 3, 64}) {
      (void)dataloader::server::BatchesPerShard(
          definition, {.shard_index = shards - 1, .shard_count = shards, .epoch = 7, .seed = 1});
    }
  }
  return 0;
}
