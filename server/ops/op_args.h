// Copyright 2026 The dataloader Authors.
//
// OpArgs: an op's arguments from the pipeline config (string key → string value), read with
// typed getters whose errors name the op, the key and the bad value. Unused keys are errors
// too (a typo must not be silently ignored): call CheckAllUsed() after reading.
//
//   OpArgs args("latency", {{"millis", "5"}});
//   absl::StatusOr<int64_t> millis = args.GetInt("millis", /*default_value=*/1);
#ifndef SERVER_OPS_OP_ARGS_H_
#define SERVER_OPS_OP_ARGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dataloader::server {

class OpArgs {
 public:
  // `data_root`: the pipeline's dataset root (files ops read are confined to it), empty if
  // its samples are not files.
  OpArgs(std::string op, std::map<std::string, std::string> values, std::string data_root = {})
      : op_(std::move(op)), values_(std::move(values)), data_root_(std::move(data_root)) {}

  absl::StatusOr<std::string> GetString(const std::string& key,
                                        std::optional<std::string> default_value);
  absl::StatusOr<int64_t> GetInt(const std::string& key, std::optional<int64_t> default_value);
  absl::StatusOr<double> GetDouble(const std::string& key, std::optional<double> default_value);
  // InvalidArgument listing keys that no getter asked for.
  absl::Status CheckAllUsed() const;
  const std::string& op() const { return op_; }
  const std::string& data_root() const { return data_root_; }

 private:
  // The raw value, or nullopt if absent (then the default, or an error if there is none).
  absl::StatusOr<std::optional<std::string>> Raw(const std::string& key, bool has_default);

  std::string op_;
  std::map<std::string, std::string> values_;
  std::string data_root_;
  std::set<std::string> used_;
};

}  // namespace dataloader::server

#endif  // SERVER_OPS_OP_ARGS_H_
