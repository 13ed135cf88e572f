// Copyright 2026 The dataloader Authors.
//
// The server's pipelines: from a text-format ServerConfig file (proto/dataloader/v1/
// pipeline_config.proto) or the built-in default, validated into PipelineDefinitions.
#ifndef SERVER_SERVICE_SERVER_CONFIG_H_
#define SERVER_SERVICE_SERVER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dataloader/v1/pipeline_config.pb.h"
#include "server/pipeline/stream_pipeline.h"

namespace dataloader::server {

// The pipeline served when no --config is given: "synthetic", 10,000 generated 128x128 RGB
// images, brightness jitter, normalization to float32 CHW, batches of 32 (6 MiB).
v1::ServerConfig DefaultServerConfig();

// Reads and parses `path`. InvalidArgument naming the file, line and column on a syntax error.
absl::StatusOr<v1::ServerConfig> ReadServerConfig(const std::string& path);

// Validates every pipeline (unique names, a source, sizes, ops and their arguments) and
// converts them; InvalidArgument names the pipeline and the value.
absl::StatusOr<std::vector<PipelineDefinition>> ToDefinitions(const v1::ServerConfig& config);

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_SERVER_CONFIG_H_
