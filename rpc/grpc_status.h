// Copyright 2026 The dataloader Authors.
//
// The one place where absl::Status and grpc::Status meet (codes have the same numbers), for
// the server and the client alike.
#ifndef RPC_GRPC_STATUS_H_
#define RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace dataloader {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace dataloader

#endif  // RPC_GRPC_STATUS_H_
