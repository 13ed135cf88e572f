// Copyright 2026 The dataloader Authors.

#include "server/pipeline/file_dataset.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/pipeline/fingerprint.h"

namespace dataloader::server {
namespace {

namespace fs = std::filesystem;

absl::Status CheckRoot(const std::string& root) {
  std::error_code error;
  if (root.empty()) return absl::InvalidArgumentError("root must be set (a directory)");
  if (!fs::exists(root, error)) {
    return absl::NotFoundError(absl::StrCat("root '", root, "' does not exist"));
  }
  if (!fs::is_directory(root, error)) {
    return absl::InvalidArgumentError(absl::StrCat("root '", root, "' is not a directory"));
  }
  if (fs::canonical(root, error) == fs::path("/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("root '", root, "' is the filesystem's root: every file would be readable"));
  }
  return absl::OkStatus();
}

// A path a list may name: relative, inside the root (no ".." component), not empty.
absl::Status CheckRelative(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("empty path");
  if (path.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("path '", path, "' is absolute; paths are relative to the root"));
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("path '", path, "' leaves the root (has a '..' component)"));
    }
  }
  return absl::OkStatus();
}

bool HasExtension(const fs::path& file, const std::vector<std::string>& extensions) {
  std::string extension = file.extension().string();
  if (extension.empty()) return false;
  extension = absl::AsciiStrToLower(extension.substr(1));
  return std::find(extensions.begin(), extensions.end(), extension) != extensions.end();
}

}  // namespace

void FileDataset::Add(absl::string_view relative_path, int64_t label) {
  if (offsets_.empty()) offsets_.push_back(0);
  paths_.append(relative_path.data(), relative_path.size());
  offsets_.push_back(paths_.size());
  labels_.push_back(static_cast<int32_t>(label));
}

absl::string_view FileDataset::path(int64_t index) const {
  const size_t i = static_cast<size_t>(index);
  return absl::string_view(paths_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
}

absl::StatusOr<std::unique_ptr<FileDataset>> FileDataset::FromImageFolder(
    const std::string& root, const std::vector<std::string>& extensions) {
  if (absl::Status ok = CheckRoot(root); !ok.ok()) return ok;
  std::vector<std::string> lower;
  for (const std::string& extension : extensions) {
    lower.push_back(absl::AsciiStrToLower(absl::StripPrefix(extension, ".")));
  }
  std::unique_ptr<FileDataset> dataset(new FileDataset(root));
  std::error_code error;
  // Classes: the root's subdirectories (not symlinks to directories), sorted.
  for (fs::directory_iterator it(root, error), end; !error && it != end; it.increment(error)) {
    if (it->is_directory(error) && !it->is_symlink(error)) {
      dataset->classes_.push_back(it->path().filename().string());
    }
  }
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot list root '", root, "': ", error.message()));
  }
  if (dataset->classes_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "root '", root, "' has no class folders (expected the layout root/<class>/<file>)"));
  }
  std::sort(dataset->classes_.begin(), dataset->classes_.end());

  std::vector<std::string> files;
  for (size_t label = 0; label < dataset->classes_.size(); ++label) {
    const std::string& name = dataset->classes_[label];
    files.clear();
    // Does not follow directory symlinks (the default): the walk stays under the root.
    for (fs::recursive_directory_iterator it(fs::path(root) / name, error), end;
         !error && it != end; it.increment(error)) {
      if (it->is_regular_file(error) && HasExtension(it->path(), lower)) {
        files.push_back(it->path().lexically_relative(root).string());
      }
    }
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot list '", root, "/", name, "': ", error.message()));
    }
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) {
      dataset->Add(file, static_cast<int64_t>(label));
      if (dataset->size() % 100000 == 0) {
        std::fprintf(stderr, "image folder '%s': %lld files listed...\n", root.c_str(),
                     static_cast<long long>(dataset->size()));
      }
    }
  }
  if (dataset->size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("root '", root, "' has no files with extension ", absl::StrJoin(lower, ", ")));
  }
  return dataset;
}

absl::StatusOr<std::unique_ptr<FileDataset>> FileDataset::FromListFile(
    const std::string& root, const std::string& list_file) {
  if (absl::Status ok = CheckRoot(root); !ok.ok()) return ok;
  std::ifstream in(list_file);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot open list file '", list_file, "': ", std::strerror(errno)));
  }
  std::unique_ptr<FileDataset> dataset(new FileDataset(root));
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    absl::string_view entry = absl::StripAsciiWhitespace(line);
    if (entry.empty() || entry.front() == '#') continue;
    int64_t label = -1;
    // A trailing integer after whitespace is the label.
    const size_t space = entry.find_last_of(" \t");
    if (space != absl::string_view::npos && absl::SimpleAtoi(entry.substr(space + 1), &label)) {
      entry = absl::StripTrailingAsciiWhitespace(entry.substr(0, space));
    } else {
      label = -1;
    }
    if (absl::Status ok = CheckRelative(entry); !ok.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("list file '", list_file, "' line ", number, ": ", ok.message()));
    }
    if (label < -1 || label > INT32_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("list file '", list_file, "' line ", number,
                                                     ": label ", label, " is out of range"));
    }
    dataset->Add(entry, label);
  }
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read list file '", list_file, "'"));
  }
  if (dataset->size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("list file '", list_file, "' names no files"));
  }
  return dataset;
}

uint64_t FileDataset::ContentFingerprint() const {
  Fingerprint hash;
  hash.Add(absl::string_view(paths_));
  hash.AddBytes(offsets_.data(), offsets_.size() * sizeof(offsets_[0]));
  hash.AddBytes(labels_.data(), labels_.size() * sizeof(labels_[0]));
  return hash.value();
}

absl::StatusOr<Sample> FileDataset::Load(int64_t index, uint64_t sample_seed) const {
  if (index < 0 || index >= size()) {
    return absl::OutOfRangeError(
        absl::StrCat("file dataset: sample index ", index, " is outside [0, ", size(), ")"));
  }
  Sample sample{
      .index = index, .seed = sample_seed, .tensors = {}, .path = std::string(path(index))};
  const int64_t value = label(index);
  Tensor& label_tensor = sample.tensors.emplace_back();
  label_tensor.name = "label";
  label_tensor.dtype = DType::kInt64;
  label_tensor.data.resize(sizeof value);
  std::memcpy(label_tensor.data.data(), &value, sizeof value);
  return sample;
}

}  // namespace dataloader::server
