// Copyright 2026 The dataloader Authors.
//
// Op: one named, configurable transformation of a Sample, usable as a pipeline stage from a
// config file (see OpRegistry). An op is synchronous (Run, on the thread pool) or natively
// asynchronous (Start, completes later without holding a thread, e.g. waiting on I/O).
//
// Ops are shared by all tasks of a stage: Run and Start are const and must be thread-safe.
#ifndef SERVER_OPS_OP_H_
#define SERVER_OPS_OP_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/stage_function.h"
#include "server/ops/op_args.h"
#include "server/pipeline/sample.h"

namespace dataloader::server {

class Op {
 public:
  virtual ~Op() = default;
  virtual bool IsAsync() const { return false; }
  // Synchronous ops: the transformed sample, or an error that fails this sample.
  virtual absl::StatusOr<Sample> Run(Sample sample, const TaskContext& context) const;
  // Asynchronous ops: must not block; call `done` exactly once, from any thread.
  virtual void Start(Sample sample, Completion<Sample> done, const TaskContext& context) const;
};

// Makes an op from its config arguments; must read every argument it accepts (unknown ones
// are reported by the registry).
using OpFactory = std::function<absl::StatusOr<std::unique_ptr<Op>>(OpArgs& args)>;

// Name → factory. Thread-compatible: register at start-up, then only Create().
class OpRegistry {
 public:
  // The registry with every built-in op.
  static const OpRegistry& Default();

  // AlreadyExists if `name` is taken.
  absl::Status Register(const std::string& name, OpFactory factory);
  // InvalidArgument naming the op if it is unknown (listing the known ones) or its arguments
  // are bad. `data_root`: see OpArgs.
  absl::StatusOr<std::unique_ptr<Op>> Create(const std::string& name,
                                             std::map<std::string, std::string> args,
                                             std::string data_root = {}) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, OpFactory> factories_;
};

// Registers the generic ops (cpu_cost, latency, normalize, cast, random_brightness).
void RegisterGenericOps(OpRegistry& registry);
// Registers the image ops (read_file, decode_image, resize, center_crop, random_resized_crop,
// random_horizontal_flip, decode_random_resized_crop).
void RegisterImageOps(OpRegistry& registry);
// Registers the remote ops (read_url: a remote sample's object, read without holding a thread).
void RegisterRemoteOps(OpRegistry& registry);

}  // namespace dataloader::server

#endif  // SERVER_OPS_OP_H_
