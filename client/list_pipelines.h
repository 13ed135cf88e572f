// Copyright 2026 The dataloader Authors.
//
// ListPipelines: what a server serves (names, tensors, batch sizes; see PipelineInfo).
//
//   absl::StatusOr<std::vector<v1::PipelineInfo>> pipelines = ListPipelines("loader:50051");
#ifndef CLIENT_LIST_PIPELINES_H_
#define CLIENT_LIST_PIPELINES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/client_options.h"
#include "dataloader/v1/data_loader.pb.h"

namespace dataloader::client {

// The server's pipelines, sorted by name. One call, no retries; fails with the call's status
// (UNAVAILABLE if the server cannot be reached, DEADLINE_EXCEEDED after `timeout`).
absl::StatusOr<std::vector<v1::PipelineInfo>> ListPipelines(
    const ClientOptions& options, absl::Duration timeout = absl::Seconds(10));
absl::StatusOr<std::vector<v1::PipelineInfo>> ListPipelines(
    const std::string& target, absl::Duration timeout = absl::Seconds(10));

}  // namespace dataloader::client

#endif  // CLIENT_LIST_PIPELINES_H_
