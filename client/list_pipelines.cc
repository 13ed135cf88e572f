// Copyright 2026 The dataloader Authors.
#include "client/list_pipelines.h"

#include <grpcpp/client_context.h>

#include <algorithm>

#include "dataloader/v1/data_loader.grpc.pb.h"
#include "rpc/grpc_status.h"

namespace dataloader::client {

absl::StatusOr<std::vector<v1::PipelineInfo>> ListPipelines(const ClientOptions& options,
                                                            absl::Duration timeout) {
  if (absl::Status valid = ValidateClientOptions(options); !valid.ok()) return valid;
  std::unique_ptr<v1::DataLoader::Stub> stub =
      v1::DataLoader::NewStub(CreateClientChannel(options));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::ListPipelinesResponse response;
  grpc::Status status = stub->ListPipelines(&context, v1::ListPipelinesRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status);
  std::vector<v1::PipelineInfo> pipelines(response.pipelines().begin(), response.pipelines().end());
  std::sort(
      pipelines.begin(), pipelines.end(),
      [](const v1::PipelineInfo& a, const v1::PipelineInfo& b) { return a.name() < b.name(); });
  return pipelines;
}

absl::StatusOr<std::vector<v1::PipelineInfo>> ListPipelines(const std::string& target,
                                                            absl::Duration timeout) {
  return ListPipelines(ClientOptions{.target = target}, timeout);
}

}  // namespace dataloader::client
