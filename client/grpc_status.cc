// Copyright 2026 The dataloader Authors.
#include "client/grpc_status.h"

#include <string>

namespace dataloader::client {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::string_view(status.error_message()));
}

}  // namespace dataloader::client
