// Copyright 2026 The dataloader Authors.
//
// TarShardDataset: WebDataset tar shards listed by a manifest (shard_manifest.h, written by
// tools/make_shards), local or behind http(s):// or s3:// URLs. Each shard is read
// sequentially (tar_shard_reader.h); samples are the tensors "label" (int64 scalar, from the
// .cls member; -1 without one) and "encoded" (uint8 [bytes], the image member), so
// decode_image and the rest apply unchanged.
//
// Order, for a request (seed, epoch, stream k of n, shuffle buffer B):
//   1. shard order: the manifest's shards in a seeded permutation of (seed, epoch) (as listed
//      when shuffle is off);
//   2. the epoch's sample sequence: the shards' samples concatenated in that order, N in all;
//   3. stream k gets the contiguous slice [k*M, (k+1)*M) of it, M = floor(N/n): every stream
//      the same count, the last N mod n samples of the sequence left out of this epoch;
//   4. within the stream, a shuffle buffer of B samples seeded by (seed, epoch, k, n): the
//      first B samples of the slice fill it; then each step emits a uniformly drawn slot and
//      puts the slice's next sample in it; at the end of the slice the rest is drawn out the
//      same way. B <= 1 or shuffle off: the slice's order.
// The buffer's draws depend only on the counts, so a stream's whole order is known from the
// manifest before reading a byte. The reader holds a sample from when it is read until it is
// emitted: never more than B (max_buffered() counts it). Sample ids (Sample::index) are the
// samples' positions in the manifest's order, the same in every epoch.
//
// Resume (first_sample > 0): the order is computed, the samples already emitted are known; the
// shards are read from the first one holding a sample not yet emitted; in it, and in every
// later shard, the members of emitted samples are skipped, not kept (a local file seeks past
// them; over HTTP their bytes are still downloaded, as the shard is read in sequential
// ranges, and dropped). So what is re-read is the tar headers, and for remote shards the
// bytes, from the first undelivered sample's shard up to where the stream resumes.
//
// Failures: a sample whose members are bad fails alone (named by shard and member); a
// truncated or damaged shard fails its samples from the damage on, a missing shard all of its
// samples (NotFound naming it); the stream goes on. A shard holding fewer samples than the
// manifest says fails the missing ones.
//
// Thread-safe after construction; each stream is read by one thread at a time.
#ifndef SERVER_PIPELINE_TAR_SHARD_DATASET_H_
#define SERVER_PIPELINE_TAR_SHARD_DATASET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/io/object_store.h"
#include "server/pipeline/dataset.h"
#include "server/pipeline/sequential_dataset.h"
#include "server/pipeline/shard_manifest.h"
#include "server/pipeline/tar_shard_reader.h"

namespace dataloader::server {

struct TarShardOptions {
  // A local path, or an http://, https:// or s3:// URL; shards are relative to its directory.
  std::string manifest{};
  // Samples held by a stream's shuffle buffer; <= 1: no in-stream shuffle. Default 1000.
  int64_t shuffle_buffer = 1000;
  // For a manifest URL (required then).
  std::shared_ptr<const io::ObjectStore> store{};
  RemoteShardOptions remote{};
};

// What a stream reports about itself.
struct TarShardStreamStats {
  int64_t max_buffered = 0;     // Most samples held (read, not yet emitted) at once.
  int64_t samples_read = 0;     // Read with their data.
  int64_t samples_skipped = 0;  // Read past without their data (resume, other streams' samples).
};

class TarShardDataset final : public Dataset, public SequentialDataset {
 public:
  // Reads the manifest (errors name it and the line; NotFound if it cannot be read).
  static absl::StatusOr<std::unique_ptr<TarShardDataset>> Open(TarShardOptions options);

  int64_t size() const override { return manifest_.total_samples; }
  // FailedPrecondition: tar shards are read in order (sequential()).
  absl::StatusOr<Sample> Load(int64_t index, uint64_t sample_seed) const override;
  // The manifest's shards (names, counts, sizes) and the shuffle buffer size: what the order
  // and bytes depend on, not where the shards are kept.
  uint64_t ContentFingerprint() const override;
  const SequentialDataset* sequential() const override { return this; }

  int64_t SamplesPerStream(int64_t shard_count) const override;
  absl::StatusOr<std::unique_ptr<SampleStream>> OpenStream(
      const SequentialStreamRequest& request) const override;
  // As OpenStream, with the stream's statistics written to `stats` as it goes (tests).
  absl::StatusOr<std::unique_ptr<SampleStream>> OpenStream(
      const SequentialStreamRequest& request, std::shared_ptr<TarShardStreamStats> stats) const;

  // The stream's order: for each emitted position, the slice position (0 to M-1) it emits.
  std::vector<int64_t> EmitOrder(const SequentialStreamRequest& request) const;
  // The shard order of an epoch (indices into manifest().shards).
  std::vector<int64_t> ShardOrder(uint64_t seed, uint64_t epoch, bool shuffle) const;

  const ShardManifest& manifest() const { return manifest_; }
  // Where shard `index` is: a path or a URL.
  std::string ShardLocation(int64_t index) const;
  // The id of shard `index`'s first sample.
  int64_t FirstSampleId(int64_t index) const { return first_sample_[static_cast<size_t>(index)]; }
  const TarShardOptions& options() const { return options_; }

 private:
  TarShardDataset(TarShardOptions options, ShardManifest manifest, std::string base)
      : options_(std::move(options)), manifest_(std::move(manifest)), base_(std::move(base)) {
    int64_t first = 0;
    for (const ShardEntry& shard : manifest_.shards) {
      first_sample_.push_back(first);
      first += shard.samples;
    }
  }

  TarShardOptions options_;
  ShardManifest manifest_;
  std::string base_;                   // The manifest's directory (or URL prefix), with '/'.
  std::vector<int64_t> first_sample_;  // Id of each shard's first sample.
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_TAR_SHARD_DATASET_H_
