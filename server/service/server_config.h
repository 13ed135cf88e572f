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
#include "server/ops/op_registry.h"
#include "server/pipeline/stream_pipeline.h"

namespace dataloader::server {

// Limits of the config's integers (a larger value is an error naming it): tasks of one stage
// (and samples loaded at once) per stream, batches buffered per stream, samples in a
// synthetic dataset.
inline constexpr uint64_t kMaxStageConcurrency = 65536;
inline constexpr uint64_t kMaxSinkBuffer = 1024;
inline constexpr uint64_t kMaxSamples = uint64_t{1} << 48;

// The pipeline served when no --config is given: "synthetic", 10,000 generated 128x128 RGB
// images, brightness jitter, normalization to float32 CHW, batches of 32 (6 MiB).
v1::ServerConfig DefaultServerConfig();

// Reads and parses `path`. InvalidArgument naming the file, line and column on a syntax error.
absl::StatusOr<v1::ServerConfig> ReadServerConfig(const std::string& path);

// Validates every pipeline (unique names, a source, sizes, ops and their arguments) and
// converts them; InvalidArgument names the pipeline and the value.
// `ops` are the ops stages may name.
absl::StatusOr<std::vector<PipelineDefinition>> ToDefinitions(const v1::ServerConfig& config,
                                                              const OpRegistry& ops);

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_SERVER_CONFIG_H_
