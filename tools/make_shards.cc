// Copyright 2026 The dataloader Authors.
//
// make_shards: writes an image folder (ImageNet layout, DIR/<class>/.../<file>) as tar shards
// in the WebDataset layout, for tests, benchmarks and users with a million small files.
//
//   make_shards --input=/data/imagenet/train --output=/data/shards/train --samples_per_shard=1000
//
// Samples are the folder's files in the order and with the labels the server's image_folder
// source gives them (FileDataset: classes sorted, paths within a class sorted; label = class
// index), optionally shuffled with --shuffle_seed. Shard k is OUTPUT/PREFIX-%06d.tar (k from 0);
// sample i of the whole set is in shard i / samples_per_shard. Each sample is three members
// with the same basename, its key (the sample's position, 9 digits: no dots, as WebDataset
// splits names at the first dot):
//   KEY.jpg or KEY.png  the file's bytes, unchanged (.jpeg is written as .jpg)
//   KEY.cls             the label as decimal text
//   KEY.json            {"path": "<class>/<file>", "label": N, "class": "<class>"}
// Members are ustar/pax entries with fixed owner and times, so the same input and flags give
// byte-identical shards. OUTPUT/shards.txt lists the shard files in order, one per line, and
// OUTPUT/manifest lists them with their sample counts and sizes and the total (the tar_shards
// source reads it: server/pipeline/shard_manifest.h).
#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/pipeline/file_dataset.h"
#include "server/pipeline/shard_manifest.h"

ABSL_FLAG(std::string, input, "", "The image folder (ImageNet layout: DIR/<class>/<file>).");
ABSL_FLAG(std::string, output, "", "Directory for the shards (created if missing).");
ABSL_FLAG(std::string, prefix, "shard", "Shard file names: PREFIX-000000.tar, ...");
ABSL_FLAG(int64_t, samples_per_shard, 1000, "Samples per shard (the last may have fewer).");
ABSL_FLAG(uint64_t, shuffle_seed, 0,
          "0: the folder's order. Otherwise the samples are shuffled with this seed before "
          "being cut into shards (the same seed gives the same shards).");
ABSL_FLAG(std::string, extensions, "jpg,jpeg,png",
          "File extensions to include, comma-separated (jpg, jpeg and png are the fields the "
          "shards can hold).");

namespace dataloader::tools {
namespace {

namespace fs = std::filesystem;

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

absl::StatusOr<std::string> ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read '", path.string(), "': ", std::strerror(errno)));
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// One tar file being written.
class ShardWriter {
 public:
  static absl::StatusOr<std::unique_ptr<ShardWriter>> Open(const std::string& path) {
    std::unique_ptr<ShardWriter> writer(new ShardWriter(path));
    // pax restricted: plain ustar headers unless a name needs more, readable by every tar.
    if (archive_write_set_format_pax_restricted(writer->archive_) != ARCHIVE_OK ||
        archive_write_open_filename(writer->archive_, path.c_str()) != ARCHIVE_OK) {
      return writer->Error("cannot open");
    }
    return writer;
  }
  ~ShardWriter() { archive_write_free(archive_); }

  absl::Status Add(const std::string& name, const std::string& bytes) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(bytes.size()));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_mtime(entry, 0, 0);  // Fixed: same input, same bytes.
    archive_entry_set_uid(entry, 0);
    archive_entry_set_gid(entry, 0);
    const bool ok = archive_write_header(archive_, entry) == ARCHIVE_OK &&
                    archive_write_data(archive_, bytes.data(), bytes.size()) ==
                        static_cast<la_ssize_t>(bytes.size());
    archive_entry_free(entry);
    if (!ok) return Error(absl::StrCat("cannot write '", name, "'"));
    return absl::OkStatus();
  }

  absl::Status Close() {
    if (archive_write_close(archive_) != ARCHIVE_OK) return Error("cannot finish");
    return absl::OkStatus();
  }

 private:
  explicit ShardWriter(std::string path) : path_(std::move(path)), archive_(archive_write_new()) {}
  absl::Status Error(const std::string& what) {
    const char* detail = archive_error_string(archive_);
    return absl::InternalError(
        absl::StrCat(path_, ": ", what, ": ", detail == nullptr ? "unknown error" : detail));
  }

  std::string path_;
  archive* archive_;
};

absl::Status Run() {
  const std::string input = absl::GetFlag(FLAGS_input);
  const std::string output = absl::GetFlag(FLAGS_output);
  const int64_t per_shard = absl::GetFlag(FLAGS_samples_per_shard);
  if (input.empty() || output.empty()) {
    return absl::InvalidArgumentError("--input and --output are required (see --help)");
  }
  if (per_shard < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--samples_per_shard must be >= 1, got ", per_shard));
  }
  std::vector<std::string> extensions;
  for (absl::string_view extension : absl::StrSplit(absl::GetFlag(FLAGS_extensions), ',')) {
    const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(extension));
    if (lower != "jpg" && lower != "jpeg" && lower != "png") {
      return absl::InvalidArgumentError(
          absl::StrCat("--extensions: '", lower, "' is not jpg, jpeg or png"));
    }
    extensions.push_back(lower);
  }
  absl::StatusOr<std::unique_ptr<server::FileDataset>> dataset =
      server::FileDataset::FromImageFolder(input, extensions);
  if (!dataset.ok()) return dataset.status();
  const server::FileDataset& files = **dataset;

  std::vector<int64_t> order(static_cast<size_t>(files.size()));
  std::iota(order.begin(), order.end(), 0);
  if (const uint64_t seed = absl::GetFlag(FLAGS_shuffle_seed); seed != 0) {
    // Fisher-Yates with a fixed generator: the same seed gives the same order everywhere.
    std::mt19937_64 random(seed);
    for (size_t i = order.size(); i > 1; --i) {
      std::swap(order[i - 1], order[random() % i]);
    }
  }

  std::error_code error;
  fs::create_directories(output, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create '", output, "': ", error.message()));
  }
  std::vector<std::string> shard_names;
  server::ShardManifest manifest;
  std::unique_ptr<ShardWriter> shard;
  int64_t bytes_written = 0;
  for (size_t position = 0; position < order.size(); ++position) {
    if (position % static_cast<size_t>(per_shard) == 0) {
      if (shard != nullptr) {
        if (absl::Status closed = shard->Close(); !closed.ok()) return closed;
      }
      shard_names.push_back(
          absl::StrFormat("%s-%06d.tar", absl::GetFlag(FLAGS_prefix), shard_names.size()));
      manifest.shards.push_back({.file = shard_names.back()});
      absl::StatusOr<std::unique_ptr<ShardWriter>> opened =
          ShardWriter::Open((fs::path(output) / shard_names.back()).string());
      if (!opened.ok()) return opened.status();
      shard = *std::move(opened);
    }
    const int64_t index = order[position];
    const std::string path(files.path(index));
    const int64_t label = files.label(index);
    absl::StatusOr<std::string> bytes = ReadWhole(fs::path(input) / path);
    if (!bytes.ok()) return bytes.status();
    std::string extension = absl::AsciiStrToLower(fs::path(path).extension().string().substr(1));
    if (extension == "jpeg") extension = "jpg";
    const std::string key = absl::StrFormat("%09d", position);
    const std::string class_name = files.classes()[static_cast<size_t>(label)];
    const std::string json = absl::StrCat("{\"path\": ", JsonString(path), ", \"label\": ", label,
                                          ", \"class\": ", JsonString(class_name), "}");
    for (const auto& [name, content] :
         {std::pair<std::string, const std::string*>{absl::StrCat(key, ".", extension), &*bytes},
          {absl::StrCat(key, ".cls"), nullptr},
          {absl::StrCat(key, ".json"), &json}}) {
      const std::string label_text = absl::StrCat(label);
      if (absl::Status added = shard->Add(name, content == nullptr ? label_text : *content);
          !added.ok()) {
        return added;
      }
    }
    bytes_written += static_cast<int64_t>(bytes->size());
    ++manifest.shards.back().samples;
    ++manifest.total_samples;
  }
  if (shard != nullptr) {
    if (absl::Status closed = shard->Close(); !closed.ok()) return closed;
  }
  for (server::ShardEntry& entry : manifest.shards) {
    entry.bytes = static_cast<int64_t>(fs::file_size(fs::path(output) / entry.file, error));
    if (error) {
      return absl::InternalError(absl::StrCat("cannot stat ", entry.file, ": ", error.message()));
    }
  }
  std::ofstream manifest_file(fs::path(output) / "manifest");
  manifest_file << manifest.Format();
  manifest_file.close();
  if (!manifest_file)
    return absl::InternalError(absl::StrCat("cannot write ", output, "/manifest"));
  std::ofstream list(fs::path(output) / "shards.txt");
  for (const std::string& name : shard_names) list << name << "\n";
  list.close();
  if (!list) return absl::InternalError(absl::StrCat("cannot write ", output, "/shards.txt"));
  std::printf("make_shards: %lld samples (%lld image bytes) in %zu shards under %s\n",
              static_cast<long long>(files.size()), static_cast<long long>(bytes_written),
              shard_names.size(), output.c_str());
  return absl::OkStatus();
}

}  // namespace
}  // namespace dataloader::tools

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes an image folder as WebDataset tar shards.\n"
      "  make_shards --input=DIR --output=DIR [--samples_per_shard=1000] [--shuffle_seed=0]");
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = dataloader::tools::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "make_shards: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
