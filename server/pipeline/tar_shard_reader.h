// Copyright 2026 The dataloader Authors.
//
// Reading one WebDataset tar shard sequentially, with libarchive, from any byte stream:
//
//   ShardByteSource   a shard's bytes in order, chunk by chunk: a local file (read in 1 MiB
//                     chunks; skipping seeks), or an object read through io::ObjectStore as
//                     consecutive ranged GETs of `chunk_bytes`, `prefetch` of them in flight
//                     ahead of the reader (the store's one libcurl I/O thread does the network
//                     work; the reader waits only when the network is behind).
//   TarSampleReader   groups the archive's members into samples by key (WebDataset: the member
//                     name up to the first '.' of its base name, with its directory), fields by
//                     extension: jpg/jpeg/png -> the sample's encoded image, cls -> its label
//                     (decimal text); other members (json, ...) are skipped.
//
// A sample whose members are bad (no image, two images, a label that is not an integer) is
// returned with an error naming the shard and the member; the reader goes on. A damaged or
// truncated archive, or a failed read, ends the reader with an error naming the shard and the
// last member reached: the samples after it cannot be found.
//
// Thread-compatible.
#ifndef SERVER_PIPELINE_TAR_SHARD_READER_H_
#define SERVER_PIPELINE_TAR_SHARD_READER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/io/object_store.h"

struct archive;

namespace dataloader::server {

class ShardByteSource {
 public:
  virtual ~ShardByteSource() = default;
  // The next bytes (valid until the next call); empty at the end. An error ends the source.
  virtual absl::StatusOr<absl::string_view> Next() = 0;
  // Skips up to `bytes` ahead without reading them; returns how many were skipped (0 when the
  // source cannot skip: the reader then reads and drops them).
  virtual int64_t Skip(int64_t bytes) {
    (void)bytes;
    return 0;
  }
};

// NotFound naming `path` if it cannot be opened.
absl::StatusOr<std::unique_ptr<ShardByteSource>> OpenLocalShard(const std::string& path);

struct RemoteShardOptions {
  // Bytes per ranged GET. Default 4 MiB.
  int64_t chunk_bytes = int64_t{4} << 20;
  // Ranged GETs in flight ahead of the reader. Default 4 (16 MiB per shard being read).
  int prefetch = 4;
};

// Starts reading the object `url` of `size` bytes (from the manifest) through `store`; never
// fails here: a missing object is the first Next()'s error. Destroying the source cancels its
// reads.
std::unique_ptr<ShardByteSource> OpenRemoteShard(std::shared_ptr<const io::ObjectStore> store,
                                                 std::string url, int64_t size,
                                                 RemoteShardOptions options = {});

struct ShardSample {
  std::string key{};
  // Not OK: this sample's members are bad (the message names the shard and member).
  absl::Status status{};
  std::vector<uint8_t> encoded{};  // Empty when read without data.
  int64_t label = -1;              // -1 without a .cls member (or read without data).
};

class TarSampleReader {
 public:
  // `name` names the shard in errors.
  TarSampleReader(std::unique_ptr<ShardByteSource> bytes, std::string name);
  ~TarSampleReader();
  TarSampleReader(const TarSampleReader&) = delete;
  TarSampleReader& operator=(const TarSampleReader&) = delete;

  // The next sample, or nullopt at the end of the archive. With `with_data` false, members'
  // bytes are skipped, not copied (the key is still read). An error (damaged or truncated
  // archive, failed read) ends the reader: later calls return it again.
  absl::StatusOr<std::optional<ShardSample>> Next(bool with_data);

 private:
  // Reads the next member header into pending_; false at the end of the archive.
  absl::StatusOr<bool> ReadHeader();
  absl::Status Fail(absl::string_view what);

  std::unique_ptr<ShardByteSource> bytes_;
  std::string name_;
  archive* archive_;
  absl::Status error_;
  absl::Status source_error_;  // The byte source's, which libarchive only sees as EIO.
  bool started_ = false;
  bool ended_ = false;
  // The member whose header was read but not yet its data: the first of the next sample.
  std::optional<std::string> pending_;
  int64_t pending_size_ = 0;  // Its size from the header.
  std::string last_member_;
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_TAR_SHARD_READER_H_
