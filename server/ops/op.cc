// Copyright 2026 The dataloader Authors.

#include "server/ops/op.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace dataloader::server {

size_t TensorLayout::bytes() const {
  size_t elements = 1;
  for (int64_t d : shape) elements *= static_cast<size_t>(d);
  return elements * DTypeSize(dtype);
}

absl::StatusOr<Sample> Op::Run(Sample, const TaskContext& context) const {
  return absl::InternalError(
      absl::StrCat("stage '", context.stage_name(), "': asynchronous op called synchronously"));
}

void Op::Start(Sample sample, Completion<Sample> done, const TaskContext& context) const {
  done(Run(std::move(sample), context));
}

}  // namespace dataloader::server
