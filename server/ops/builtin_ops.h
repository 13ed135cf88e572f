// Copyright 2026 The dataloader Authors.
//
// The ops every server has. A server binary registers them into its OpRegistry at start-up
// (DataLoaderServer does, unless given a registry of its own), next to any of its own.
#ifndef SERVER_OPS_BUILTIN_OPS_H_
#define SERVER_OPS_BUILTIN_OPS_H_

#include "absl/status/status.h"
#include "server/ops/op_registry.h"

namespace dataloader::server {

// All of the below. AlreadyExists if `registry` already has an op of one of their names.
absl::Status RegisterBuiltinOps(OpRegistry& registry);

// cpu_cost, latency, cast, normalize, random_brightness (server/ops/generic_ops.cc).
absl::Status RegisterGenericOps(OpRegistry& registry);
// decode_image, resize, center_crop, random_resized_crop, random_horizontal_flip,
// decode_random_resized_crop (server/ops/image_ops.cc).
absl::Status RegisterImageOps(OpRegistry& registry);
// read_file (server/ops/file_ops.cc).
absl::Status RegisterFileOps(OpRegistry& registry);
// read_url (server/ops/remote_ops.cc).
absl::Status RegisterRemoteOps(OpRegistry& registry);

}  // namespace dataloader::server

#endif  // SERVER_OPS_BUILTIN_OPS_H_
