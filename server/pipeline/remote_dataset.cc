// Copyright 2026 The dataloader Authors.

#include "server/pipeline/remote_dataset.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "server/pipeline/fingerprint.h"

namespace dataloader::server {
namespace {

// The extension of the last path component, lowercased, without the dot ("" if none).
std::string Extension(absl::string_view path) {
  const absl::string_view file = path.substr(path.rfind('/') + 1);
  const size_t dot = file.rfind('.');
  if (dot == absl::string_view::npos || dot == 0) return "";
  return absl::AsciiStrToLower(file.substr(dot + 1));
}

}  // namespace

void RemoteDataset::Add(absl::string_view name, int64_t label) {
  if (offsets_.empty()) offsets_.push_back(0);
  names_.append(name.data(), name.size());
  offsets_.push_back(names_.size());
  labels_.push_back(static_cast<int32_t>(label));
}

absl::string_view RemoteDataset::name(int64_t index) const {
  const size_t i = static_cast<size_t>(index);
  return absl::string_view(names_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
}

std::string RemoteDataset::url(int64_t index) const { return absl::StrCat(base_, name(index)); }

absl::StatusOr<std::unique_ptr<RemoteDataset>> RemoteDataset::FromUrlList(
    const std::string& list_file, std::shared_ptr<const io::ObjectStore> store) {
  std::ifstream in(list_file);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot open URL list '", list_file, "': ", std::strerror(errno)));
  }
  std::unique_ptr<RemoteDataset> dataset(new RemoteDataset("", std::move(store)));
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    absl::string_view entry = absl::StripAsciiWhitespace(line);
    if (entry.empty() || entry.front() == '#') continue;
    auto bad = [&](auto&&... what) {
      return absl::InvalidArgumentError(
          absl::StrCat("URL list '", list_file, "' line ", number, ": ", what...));
    };
    int64_t label = -1;
    const size_t space = entry.find_last_of(" \t");
    if (space != absl::string_view::npos) {
      if (!absl::SimpleAtoi(entry.substr(space + 1), &label)) {
        return bad("expected a URL and an optional integer label");
      }
      entry = absl::StripTrailingAsciiWhitespace(entry.substr(0, space));
    }
    if (label < -1 || label > INT32_MAX) return bad("label ", label, " is out of range");
    if (absl::StartsWith(entry, "s3://")) {
      if (absl::Status ok = io::ParseS3Url(entry).status(); !ok.ok()) return bad(ok.message());
      if (dataset->store_->s3() == nullptr) {
        return bad("s3:// URL, but the source has no s3 options (add s3 { ... })");
      }
    } else if (!absl::StartsWith(entry, "http://") && !absl::StartsWith(entry, "https://")) {
      return bad("'", io::RedactUrl(entry), "' is not an http://, https:// or s3:// URL");
    }
    dataset->Add(entry, label);
  }
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat("cannot read '", list_file, "'"));
  if (dataset->size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("URL list '", list_file, "' names no URLs"));
  }
  return dataset;
}

absl::StatusOr<std::unique_ptr<RemoteDataset>> RemoteDataset::FromS3Prefix(
    const std::string& bucket, const std::string& prefix,
    const std::vector<std::string>& extensions, std::shared_ptr<const io::ObjectStore> store,
    int list_page_size) {
  if (store->s3() == nullptr) return absl::InvalidArgumentError("the store has no s3 options");
  if (bucket.empty()) return absl::InvalidArgumentError("bucket must be set");
  std::string folder(absl::StripPrefix(prefix, "/"));
  if (!folder.empty() && folder.back() != '/') folder += '/';
  const std::string where = io::S3Client::ObjectUrl(bucket, folder);
  absl::StatusOr<std::vector<io::S3Object>> objects =
      store->s3()->ListObjects(bucket, folder, list_page_size);
  if (!objects.ok()) return objects.status();

  std::set<std::string> wanted;
  for (const std::string& extension : extensions) {
    wanted.insert(absl::AsciiStrToLower(absl::StripPrefix(extension, ".")));
  }
  // (class, path below the prefix) of every wanted object; classes from every object in a
  // class folder, as a local folder's classes are its subdirectories whatever they hold.
  std::set<std::string> class_names;
  std::vector<std::pair<std::string, std::string>> files;
  for (const io::S3Object& object : *objects) {
    absl::string_view relative = object.key;
    if (!absl::ConsumePrefix(&relative, folder)) continue;
    const size_t slash = relative.find('/');
    if (slash == absl::string_view::npos || slash == 0) continue;  // Not in a class folder.
    const std::string class_name(relative.substr(0, slash));
    class_names.insert(class_name);
    if (relative.back() == '/') continue;  // A folder marker, not a file.
    if (wanted.count(Extension(relative)) == 0) continue;
    files.emplace_back(class_name, std::string(relative));
  }
  if (class_names.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " has no class folders (expected the layout PREFIX/<class>/<file>)"));
  }
  if (files.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " has no objects with extension ", absl::StrJoin(wanted, ", ")));
  }
  std::unique_ptr<RemoteDataset> dataset(
      new RemoteDataset(absl::StrCat("s3://", bucket, "/", folder), std::move(store)));
  dataset->classes_.assign(class_names.begin(), class_names.end());  // Sorted, byte-wise.
  // FileDataset's order: by class, then by path within the class.
  std::sort(files.begin(), files.end());
  size_t label = 0;
  for (const auto& [class_name, relative] : files) {
    while (dataset->classes_[label] != class_name) ++label;
    dataset->Add(relative, static_cast<int64_t>(label));
  }
  return dataset;
}

uint64_t RemoteDataset::ContentFingerprint() const {
  Fingerprint hash;
  hash.Add(absl::string_view("remote"));
  hash.Add(absl::string_view(base_));
  hash.Add(absl::string_view(names_));
  hash.AddBytes(offsets_.data(), offsets_.size() * sizeof(offsets_[0]));
  hash.AddBytes(labels_.data(), labels_.size() * sizeof(labels_[0]));
  return hash.value();
}

absl::Status RemoteDataset::CheckReachable() const {
  const std::string first = url(0);
  absl::StatusOr<std::vector<uint8_t>> bytes =
      store_->ReadAndWait(first, {.range = io::ByteRange{.offset = 0, .length = 1}});
  if (bytes.ok() || absl::IsNotFound(bytes.status()) || absl::IsOutOfRange(bytes.status())) {
    return absl::OkStatus();
  }
  return absl::Status(bytes.status().code(),
                      absl::StrCat("reading object '", io::RedactUrl(first),
                                   "' at start-up: ", bytes.status().message()));
}

absl::StatusOr<Sample> RemoteDataset::Load(int64_t index, uint64_t sample_seed) const {
  if (index < 0 || index >= size()) {
    return absl::OutOfRangeError(
        absl::StrCat("remote dataset: sample index ", index, " is outside [0, ", size(), ")"));
  }
  Sample sample{
      .index = index, .seed = sample_seed, .tensors = {}, .path = url(index), .store = store_};
  const int64_t value = label(index);
  Tensor& label_tensor = sample.tensors.emplace_back();
  label_tensor.name = "label";
  label_tensor.dtype = DType::kInt64;
  label_tensor.data.resize(sizeof value);
  std::memcpy(label_tensor.data.data(), &value, sizeof value);
  return sample;
}

}  // namespace dataloader::server
