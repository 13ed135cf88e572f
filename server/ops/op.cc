// Copyright 2026 The dataloader Authors.

#include "server/ops/op.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace dataloader::server {

absl::StatusOr<Sample> Op::Run(Sample, const TaskContext& context) const {
  return absl::InternalError(
      absl::StrCat("stage '", context.stage_name(), "': asynchronous op called synchronously"));
}

void Op::Start(Sample sample, Completion<Sample> done, const TaskContext& context) const {
  done(Run(std::move(sample), context));
}

}  // namespace dataloader::server
