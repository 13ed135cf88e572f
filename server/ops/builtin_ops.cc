// Copyright 2026 The dataloader Authors.

#include "server/ops/builtin_ops.h"

namespace dataloader::server {

absl::Status RegisterBuiltinOps(OpRegistry& registry) {
  for (auto each : {&RegisterGenericOps, &RegisterImageOps, &RegisterFileOps, &RegisterRemoteOps}) {
    if (absl::Status status = each(registry); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace dataloader::server
