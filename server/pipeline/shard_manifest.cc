// Copyright 2026 The dataloader Authors.

#include "server/pipeline/shard_manifest.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dataloader::server {

absl::StatusOr<ShardManifest> ShardManifest::Parse(absl::string_view text,
                                                   absl::string_view source) {
  ShardManifest manifest;
  bool has_total = false;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    auto invalid = [&](auto&&... parts) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_number, ": ", parts...));
    };
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (has_total) return invalid("nothing may follow the 'total' line");
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields[0] == "total") {
      int64_t total = 0;
      if (fields.size() != 2 || !absl::SimpleAtoi(fields[1], &total) || total < 0) {
        return invalid("expected 'total SAMPLES', got '", line, "'");
      }
      if (total != manifest.total_samples) {
        return invalid("total ", total, " is not the sum of the shards' samples (",
                       manifest.total_samples, ")");
      }
      has_total = true;
      continue;
    }
    ShardEntry entry;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[1], &entry.samples) ||
        !absl::SimpleAtoi(fields[2], &entry.bytes) || entry.samples < 0 || entry.bytes < 0) {
      return invalid("expected 'FILE SAMPLES BYTES' (counts >= 0), got '", line, "'");
    }
    entry.file = std::string(fields[0]);
    if (entry.file[0] == '/' || absl::StrContains(entry.file, "://")) {
      return invalid("shard '", entry.file, "' must be relative to the manifest");
    }
    for (absl::string_view part : absl::StrSplit(entry.file, '/')) {
      if (part == "..") return invalid("shard '", entry.file, "' leaves the manifest's directory");
    }
    manifest.total_samples += entry.samples;
    manifest.shards.push_back(std::move(entry));
  }
  if (manifest.shards.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": lists no shards"));
  }
  if (!has_total) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no 'total SAMPLES' line (the file may be cut short)"));
  }
  return manifest;
}

std::string ShardManifest::Format() const {
  std::string text = "# dataloader tar shards v1: FILE SAMPLES BYTES\n";
  for (const ShardEntry& shard : shards) {
    absl::StrAppend(&text, shard.file, " ", shard.samples, " ", shard.bytes, "\n");
  }
  absl::StrAppend(&text, "total ", total_samples, "\n");
  return text;
}

}  // namespace dataloader::server
