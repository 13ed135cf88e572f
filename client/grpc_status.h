// Copyright 2026 The dataloader Authors.
//
// The client's one place where grpc::Status becomes absl::Status (codes have the same numbers).
#ifndef CLIENT_GRPC_STATUS_H_
#define CLIENT_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace dataloader::client {

absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace dataloader::client

#endif  // CLIENT_GRPC_STATUS_H_
