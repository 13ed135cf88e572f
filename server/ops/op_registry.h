// Copyright 2026 The dataloader Authors.
//
// OpRegistry: the ops a server's configs may name. Each op is registered with its spec: its
// name, what it does, its declared arguments (see op_args.h) and a factory. The built-in ops
// are registered by RegisterBuiltinOps (server/ops/builtin_ops.h); a binary that links the
// server library registers its own next to them and hands the registry to the server
// (DataLoaderServerOptions::ops):
//
//   OpRegistry ops;
//   if (absl::Status s = RegisterBuiltinOps(ops); !s.ok()) ...
//   ops.Register({.name = "invert", .summary = "255 - x for every byte of a uint8 tensor",
//                 .args = {{.name = "tensor", .default_value = "image", .help = "..."}},
//                 .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
//                   return std::make_unique<InvertOp>(args.String("tensor"));
//                 }});
//
// Thread-compatible: register at start-up, then only read (Create, Find, Catalogue).
#ifndef SERVER_OPS_OP_REGISTRY_H_
#define SERVER_OPS_OP_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/ops/op.h"
#include "server/ops/op_args.h"

namespace dataloader::server {

// Makes an op from its arguments, already checked against the spec's declarations; returns
// InvalidArgument (OpArgs::Error) for what only the op can check (e.g. two arguments that
// exclude each other).
using OpFactory = std::function<absl::StatusOr<std::unique_ptr<Op>>(const OpArgs& args)>;

struct OpSpec {
  // The name configs use, e.g. "decode_image". Required; unique in a registry.
  std::string name = {};
  // What the op does, for the catalogue (one or two sentences).
  std::string summary = {};
  // Whether the op is natively asynchronous (holds no thread while it waits). For the
  // catalogue; the op itself says so through Op::IsAsync().
  bool async = false;
  // Every argument the op reads, in the order the catalogue lists them.
  std::vector<ArgSpec> args = {};
  OpFactory factory = {};
};

class OpRegistry {
 public:
  // InvalidArgument if the spec has no name or factory or declares an argument twice;
  // AlreadyExists if the name is taken.
  absl::Status Register(OpSpec spec);
  // The op `name` made from `args` (checked against its declarations). InvalidArgument naming
  // the op if it is unknown (listing the known ones) or an argument is bad. `data_root`: see
  // OpArgs::Parse.
  absl::StatusOr<std::unique_ptr<Op>> Create(const std::string& name,
                                             const std::map<std::string, std::string>& args,
                                             std::string data_root = {}) const;
  // Null if unknown.
  const OpSpec* Find(const std::string& name) const;
  std::vector<std::string> Names() const;
  // Every op with its summary and arguments (type, default, meaning), as
  // `dataloader_server --list_ops` prints it.
  std::string Catalogue() const;

 private:
  std::map<std::string, OpSpec> specs_;
};

}  // namespace dataloader::server

#endif  // SERVER_OPS_OP_REGISTRY_H_
