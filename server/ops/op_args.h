// Copyright 2026 The dataloader Authors.
//
// ArgSpec and OpArgs: an op declares its arguments (name, type, default, meaning) where it is
// defined, and reads them back typed. The declarations are the one source of truth: the
// registry checks a config's arguments against them before the op's factory runs (unknown
// keys, values that do not parse, values out of range, missing required ones: each an
// InvalidArgument naming the op, the key and the value), and `dataloader_server --list_ops`
// prints the catalogue from them.
//
//   const std::vector<ArgSpec> kLatencyArgs = {
//       {.name = "millis", .type = ArgType::kDouble, .default_value = "1.0", .min = 0,
//        .help = "how long each sample waits"}};
//   ...
//   absl::Duration latency = absl::Milliseconds(args.Double("millis"));
//
// Thread-compatible.
#ifndef SERVER_OPS_OP_ARGS_H_
#define SERVER_OPS_OP_ARGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dataloader::server {

enum class ArgType {
  kString,      // Any text.
  kInt,         // A 64-bit integer.
  kDouble,      // A finite number (nan and inf are refused).
  kDoubleList,  // Finite numbers separated by ',' ("0.485,0.456,0.406").
  kSize,        // "N" (N x N) or "HEIGHT,WIDTH", each in [1, 65535].
  kRange,       // "LOW,HIGH", finite, LOW <= HIGH.
};

// "int", "number", ... as the catalogue and errors spell a type.
absl::string_view ArgTypeName(ArgType type);

struct ArgSpec {
  std::string name = {};
  ArgType type = ArgType::kString;
  // The value used when the config omits the argument, as the config would spell it.
  // std::nullopt: the argument is required, unless `optional`.
  std::optional<std::string> default_value = std::nullopt;
  // Without a default, the argument may still be left out: the op asks OpArgs::Given().
  bool optional = false;
  // Bounds of a number (kInt, kDouble) or of every element (kDoubleList, kRange), inclusive.
  std::optional<double> min = std::nullopt;
  std::optional<double> max = std::nullopt;
  // Elements of a kRange must be above `min` rather than at or above it (e.g. a scale > 0).
  bool exclusive_min = false;
  // What it means, one line, for the catalogue.
  std::string help = {};
};

struct ImageSize {
  int height = 0;
  int width = 0;
};

// " >= 0 and <= 255": the bounds of `spec` as the catalogue and errors state them.
std::string BoundsText(const ArgSpec& spec);

// An op's arguments, parsed and checked against its declarations. Getters take a declared
// name of the matching type (asking otherwise is a bug in the op and crashes).
class OpArgs {
 public:
  // Checks `values` (key -> text, from the config) against `specs`: every key declared,
  // every value parsed and in range, every required argument present. InvalidArgument naming
  // `op`, the key and the value otherwise. `data_root`: the pipeline's dataset root (the
  // directory file ops are confined to), empty if its samples are not files.
  static absl::StatusOr<OpArgs> Parse(const std::string& op, const std::vector<ArgSpec>& specs,
                                      const std::map<std::string, std::string>& values,
                                      std::string data_root = {});

  const std::string& String(absl::string_view name) const;
  int64_t Int(absl::string_view name) const;
  double Double(absl::string_view name) const;
  const std::vector<double>& DoubleList(absl::string_view name) const;
  ImageSize Size(absl::string_view name) const;
  std::pair<double, double> Range(absl::string_view name) const;
  // Whether the config gave the argument (rather than leaving it out). Getters of an
  // `optional` argument without a default need it given.
  bool Given(absl::string_view name) const;

  const std::string& op() const { return op_; }
  const std::string& data_root() const { return data_root_; }
  // InvalidArgument "op '<op>': <what>", for checks that involve several arguments.
  absl::Status Error(absl::string_view what) const;

 private:
  using Value = std::variant<std::string, int64_t, double, std::vector<double>, ImageSize,
                             std::pair<double, double>>;
  struct Parsed {
    ArgType type;
    Value value;
    bool given;
  };

  OpArgs(std::string op, std::string data_root)
      : op_(std::move(op)), data_root_(std::move(data_root)) {}
  const Value& Get(absl::string_view name, ArgType type) const;

  std::string op_;
  std::string data_root_;
  std::map<std::string, Parsed, std::less<>> values_;
  std::set<std::string, std::less<>> absent_;  // Optional arguments the config left out.
};

}  // namespace dataloader::server

#endif  // SERVER_OPS_OP_ARGS_H_
