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

// A tensor's element type and shape, without its data.
struct TensorLayout {
  DType dtype = DType::kUint8;
  std::vector<int64_t> shape{};

  size_t bytes() const;
  bool operator==(const TensorLayout&) const = default;
};

// An op whose whole effect is to turn one tensor into a new one element by element
// (normalize). The stream pipeline may apply it while collating instead: each sample's output
// is written straight into the batch buffer, with no per-sample output tensor. Run() must give
// what Write() writes, byte for byte. Thread-safe, as Op.
class TensorMap {
 public:
  virtual ~TensorMap() = default;
  // The tensor it replaces.
  virtual const std::string& tensor_name() const = 0;
  // The output's layout for `input`, or the error Run() gives for a sample with this tensor.
  virtual absl::StatusOr<TensorLayout> OutputLayout(const Tensor& input) const = 0;
  // Writes the output for `input` (which OutputLayout accepted) to `out`: exactly
  // OutputLayout(input)->bytes() bytes, every one of them.
  virtual void Write(const Tensor& input, uint8_t* out) const = 0;
};

class Op {
 public:
  virtual ~Op() = default;
  virtual bool IsAsync() const { return false; }
  // Synchronous ops: the transformed sample, or an error that fails this sample.
  virtual absl::StatusOr<Sample> Run(Sample sample, const TaskContext& context) const;
  // Asynchronous ops: must not block; call `done` exactly once, from any thread.
  virtual void Start(Sample sample, Completion<Sample> done, const TaskContext& context) const;
  // Non-null if the op is a TensorMap (it can be applied while collating).
  virtual const TensorMap* AsTensorMap() const { return nullptr; }
};

}  // namespace dataloader::server

#endif  // SERVER_OPS_OP_H_
