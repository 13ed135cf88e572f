// Copyright 2026 The dataloader Authors.
//
// ShardManifest: what a set of tar shards holds, as tools/make_shards writes it next to the
// shards (OUTPUT/manifest). A text file, one shard per line in order, then the total:
//
//   # dataloader tar shards v1: FILE SAMPLES BYTES
//   shard-000000.tar 1000 118231040
//   shard-000001.tar 234 27658240
//   total 1234
//
// FILE is relative to the manifest's directory (or URL prefix); SAMPLES is the number of
// samples (WebDataset key groups) in it; BYTES its size (remote shards are read in ranges of
// it). Blank lines and lines starting with '#' are skipped. The sample counts let every
// stream know its slice of an epoch without reading a shard.
//
// Thread-compatible.
#ifndef SERVER_PIPELINE_SHARD_MANIFEST_H_
#define SERVER_PIPELINE_SHARD_MANIFEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dataloader::server {

struct ShardEntry {
  std::string file{};  // Relative to the manifest's directory.
  int64_t samples = 0;
  int64_t bytes = 0;
};

struct ShardManifest {
  std::vector<ShardEntry> shards{};
  int64_t total_samples = 0;

  // The manifest's text; `source` names it in errors ("manifest.txt:3: ..."). InvalidArgument
  // naming the line for a malformed line, a file name that leaves the directory ('..', an
  // absolute path), a count that does not parse, a missing or wrong total, or no shards.
  static absl::StatusOr<ShardManifest> Parse(absl::string_view text, absl::string_view source);
  // The text Parse() reads.
  std::string Format() const;
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_SHARD_MANIFEST_H_
