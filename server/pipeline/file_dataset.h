// Copyright 2026 The dataloader Authors.
//
// FileDataset: image files under a root directory, with integer labels. Made from
//   - an image folder in the ImageNet layout, root/<class>/.../<file>: every file whose
//     extension is in the filter (case-insensitive), found recursively and sorted by path so
//     the order is the same on every machine; label = index of <class> among the root's
//     subdirectories in sorted order (as torchvision's ImageFolder);
//   - a list file: one path relative to the root per line, optionally followed by whitespace
//     and an integer label (-1 when absent); blank lines and lines starting with '#' skipped.
// Only the paths are held, packed in one buffer (about the paths' length plus 12 bytes per
// file): a million files cost tens of MB and no open files. Load() returns a sample with the
// relative path (Sample::path) and the tensor "label" (int64 scalar); the read_file op reads
// the file.
//
// Paths are confined to the root: a list entry that is absolute or has a ".." component is
// refused when the list is read, and the folder walk does not follow directory symlinks. The
// read_file op checks again at read time against symlinks that leave the root.
#ifndef SERVER_PIPELINE_FILE_DATASET_H_
#define SERVER_PIPELINE_FILE_DATASET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/pipeline/dataset.h"

namespace dataloader::server {

class FileDataset final : public Dataset {
 public:
  // Default extension filter of FromImageFolder.
  static std::vector<std::string> DefaultExtensions() { return {"jpg", "jpeg", "png"}; }

  // InvalidArgument/NotFound naming the root if it is not a readable directory or has no
  // class folders; progress goes to stderr every 100,000 files.
  static absl::StatusOr<std::unique_ptr<FileDataset>> FromImageFolder(
      const std::string& root, const std::vector<std::string>& extensions);
  // InvalidArgument naming the list file and line for a bad entry.
  static absl::StatusOr<std::unique_ptr<FileDataset>> FromListFile(const std::string& root,
                                                                   const std::string& list_file);

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  absl::StatusOr<Sample> Load(int64_t index, uint64_t sample_seed) const override;
  std::string root() const override { return root_; }

  absl::string_view path(int64_t index) const;
  int64_t label(int64_t index) const { return labels_[static_cast<size_t>(index)]; }
  // A hash of the listing (relative paths and labels), not of the root.
  uint64_t ContentFingerprint() const override;
  // Class folder names in label order (empty for list files).
  const std::vector<std::string>& classes() const { return classes_; }

 private:
  explicit FileDataset(std::string root) : root_(std::move(root)) {}
  void Add(absl::string_view relative_path, int64_t label);

  std::string root_;
  std::string paths_;              // All relative paths, back to back.
  std::vector<uint64_t> offsets_;  // Path i is paths_[offsets_[i], offsets_[i + 1]).
  std::vector<int32_t> labels_;
  std::vector<std::string> classes_;
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_FILE_DATASET_H_
