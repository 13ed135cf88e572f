// Copyright 2026 The dataloader Authors.

#include "server/ops/op_args.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dataloader::server {

absl::StatusOr<std::optional<std::string>> OpArgs::Raw(const std::string& key, bool has_default) {
  used_.insert(key);
  auto it = values_.find(key);
  if (it != values_.end()) return std::optional<std::string>(it->second);
  if (!has_default) {
    return absl::InvalidArgumentError(
        absl::StrCat("op '", op_, "': missing required argument '", key, "'"));
  }
  return std::optional<std::string>();
}

absl::StatusOr<std::string> OpArgs::GetString(const std::string& key,
                                              std::optional<std::string> default_value) {
  absl::StatusOr<std::optional<std::string>> raw = Raw(key, default_value.has_value());
  if (!raw.ok()) return raw.status();
  return raw->has_value() ? **raw : *default_value;
}

absl::StatusOr<int64_t> OpArgs::GetInt(const std::string& key,
                                       std::optional<int64_t> default_value) {
  absl::StatusOr<std::optional<std::string>> raw = Raw(key, default_value.has_value());
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return *default_value;
  int64_t value = 0;
  if (!absl::SimpleAtoi(**raw, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("op '", op_, "': argument '", key, "' must be an integer, got '", **raw, "'"));
  }
  return value;
}

absl::StatusOr<double> OpArgs::GetDouble(const std::string& key,
                                         std::optional<double> default_value) {
  absl::StatusOr<std::optional<std::string>> raw = Raw(key, default_value.has_value());
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return *default_value;
  double value = 0;
  if (!absl::SimpleAtod(**raw, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("op '", op_, "': argument '", key, "' must be a number, got '", **raw, "'"));
  }
  return value;
}

absl::Status OpArgs::CheckAllUsed() const {
  std::vector<std::string> unknown;
  for (const auto& [key, value] : values_) {
    if (!used_.contains(key)) unknown.push_back(key);
  }
  if (unknown.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("op '", op_, "': unknown argument(s) '", absl::StrJoin(unknown, "', '"), "'"));
}

}  // namespace dataloader::server
