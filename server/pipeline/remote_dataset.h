// Copyright 2026 The dataloader Authors.
//
// RemoteDataset: objects in an HTTP(S) server or an S3-compatible store, with integer labels,
// read by the read_url op (natively asynchronous: no thread waits on the network). Made from
//   - a URL list: one http://, https:// or s3://BUCKET/KEY URL per line, optionally followed by
//     whitespace and an integer label (-1 when absent); blank lines and lines starting with
//     '#' skipped; order as listed;
//   - an S3 prefix in the ImageNet layout, s3://BUCKET/PREFIX/<class>/.../<file>: listed with
//     ListObjectsV2 at start-up, filtered by extension (case-insensitive), ordered as
//     FileDataset orders a folder (classes sorted, then paths within a class sorted, byte-wise),
//     label = index of <class> among the class names in sorted order. So the same files in a
//     local folder and under a prefix give the same samples in the same order: shards, epochs
//     and resume tokens mean the same thing for both. (A class folder with no object at all
//     does not exist in S3: it shifts the labels after it, where a local empty folder would
//     not.)
// Only the names are held, packed in one buffer (about the names' length plus 12 bytes per
// object). Load() returns a sample with the object's URL (Sample::path), the dataset's store
// (Sample::store) and the tensor "label" (int64 scalar).
//
// Thread-safe after construction.
#ifndef SERVER_PIPELINE_REMOTE_DATASET_H_
#define SERVER_PIPELINE_REMOTE_DATASET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/io/object_store.h"
#include "server/pipeline/dataset.h"

namespace dataloader::server {

class RemoteDataset final : public Dataset {
 public:
  // InvalidArgument naming the list file and line for a bad entry (not a URL, an s3:// URL
  // without s3 options in `store`); NotFound if the file cannot be read.
  static absl::StatusOr<std::unique_ptr<RemoteDataset>> FromUrlList(
      const std::string& list_file, std::shared_ptr<const io::ObjectStore> store);
  // Lists s3://bucket/prefix/ (a trailing '/' is added to a non-empty prefix). The store must
  // have S3 options. Errors name the bucket and prefix: NotFound for a missing bucket,
  // PermissionDenied for refused credentials, Unavailable for an unreachable store,
  // InvalidArgument when nothing matches. `list_page_size`: keys per ListObjectsV2 page.
  static absl::StatusOr<std::unique_ptr<RemoteDataset>> FromS3Prefix(
      const std::string& bucket, const std::string& prefix,
      const std::vector<std::string>& extensions, std::shared_ptr<const io::ObjectStore> store,
      int list_page_size = 1000);

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  absl::StatusOr<Sample> Load(int64_t index, uint64_t sample_seed) const override;

  // The URL of object `index` in [0, size()).
  std::string url(int64_t index) const;
  int64_t label(int64_t index) const { return labels_[static_cast<size_t>(index)]; }
  // Class names in label order (empty for URL lists).
  const std::vector<std::string>& classes() const { return classes_; }
  // A hash of the listing (base, names and labels): servers whose listings differ refuse
  // each other's resume tokens.
  uint64_t ContentFingerprint() const override;
  // Start-up check: reads the first byte of the first object. Refused credentials
  // (PermissionDenied), an unreachable store (Unavailable) or a wrong endpoint are errors
  // naming the object; a missing or empty object is not (it fails only its sample later).
  absl::Status CheckReachable() const;
  const io::ObjectStore& store() const { return *store_; }

 private:
  RemoteDataset(std::string base, std::shared_ptr<const io::ObjectStore> store)
      : base_(std::move(base)), store_(std::move(store)) {}
  void Add(absl::string_view name, int64_t label);
  absl::string_view name(int64_t index) const;

  std::string base_;               // Prepended to every name to make its URL.
  std::string names_;              // All names, back to back.
  std::vector<uint64_t> offsets_;  // Name i is names_[offsets_[i], offsets_[i + 1]).
  std::vector<int32_t> labels_;
  std::vector<std::string> classes_;
  std::shared_ptr<const io::ObjectStore> store_;
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_REMOTE_DATASET_H_
