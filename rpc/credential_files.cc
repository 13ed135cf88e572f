// Copyright 2026 The dataloader Authors.

#include "rpc/credential_files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace dataloader {

absl::StatusOr<std::string> ReadCredentialFile(absl::string_view what, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", what, " '", path, "': ", std::strerror(errno)));
  }
  std::string contents;
  char buffer[4096];
  size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof(buffer), file)) > 0) contents.append(buffer, read);
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  if (failed) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", what, " '", path, "': ", std::strerror(error)));
  }
  return contents;
}

absl::StatusOr<std::string> ReadPemFile(absl::string_view what, const std::string& path,
                                        absl::string_view marker) {
  absl::StatusOr<std::string> pem = ReadCredentialFile(what, path);
  if (!pem.ok()) return pem;
  if (!absl::StrContains(*pem, "-----BEGIN ") || !absl::StrContains(*pem, marker)) {
    return absl::FailedPreconditionError(absl::StrCat(what, " '", path,
                                                      "' is not a PEM file with a ", marker,
                                                      " (-----BEGIN ... ", marker, "-----)"));
  }
  return pem;
}

}  // namespace dataloader
