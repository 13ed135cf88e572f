// Copyright 2026 The dataloader Authors.
//
// Op: one named, configurable transformation of a Sample, usable as a pipeline stage from a
// config file (see OpRegistry, which makes ops from their declared arguments). An op is
// synchronous (Run, on the thread pool) or natively asynchronous (Start, completes later
// without holding a thread, e.g. waiting on I/O).
//
// Ops are shared by all tasks of a stage: Run and Start are const and must be thread-safe.
#ifndef SERVER_OPS_OP_H_
#define SERVER_OPS_OP_H_

#include "absl/status/statusor.h"
#include "core/stage_function.h"
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

}  // namespace dataloader::server

#endif  // SERVER_OPS_OP_H_
