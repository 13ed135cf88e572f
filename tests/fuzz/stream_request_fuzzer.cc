// Copyright 2026 The dataloader Authors.
//
// Fuzzes what the service does with a StreamBatches call's bytes before it streams:
// ParseRequest (strict wire walk, then protobuf) -> ValidateStreamRequest (shard fields,
// max_batches, the resume token: ResumeSequence) -> BuildStreamPipeline (the token's batch
// against the epoch, the plan), exactly the functions DataLoaderService::Prepare calls.
//
// Input: one mode byte, then the request's bytes. Mode bit 0 set: the request's resume_token
// is taken as a serialized ResumePoint and signed as the server signs tokens, so that
// mutations reach past the token's checksum into its decoding and the identity checks (a
// mutated real token only ever fails the checksum). Bit 1 set too: the point's
// config_fingerprint is first set to the pipeline's (a 64-bit hash no mutation guesses), so
// that tokens reach the batch bounds. The pipelines are two of a fixed config; a request
// naming neither is checked against the first (the service would answer NOT_FOUND before
// validating).
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "core/runtime.h"
#include "dataloader/v1/resume_token.pb.h"
#include "server/ops/builtin_ops.h"
#include "server/pipeline/fingerprint.h"
#include "server/service/request_parser.h"
#include "server/service/server_config.h"

namespace {

using dataloader::server::PipelineDefinition;

constexpr char kConfig[] = R"pb(
  pipelines {
    name: "small"
    synthetic { num_samples: 103 height: 4 width: 5 channels: 3 num_classes: 7 }
    stages { op: "random_brightness" }
    stages {
      op: "normalize"
      args { key: "mean" value: "0.5" }
    }
    batch_size: 8
  }
  pipelines {
    name: "exact"
    synthetic { num_samples: 96 height: 2 width: 2 channels: 1 }
    batch_size: 32
    drop_last: true
    shuffle: false
  }
)pb";

struct Served {
  dataloader::server::OpRegistry ops;
  std::map<std::string, PipelineDefinition> pipelines;
  std::unique_ptr<dataloader::Runtime> runtime;
};

Served& TheServer() {
  static Served* const served = [] {
    auto* made = new Served();
    if (!dataloader::server::RegisterBuiltinOps(made->ops).ok()) std::abort();
    dataloader::v1::ServerConfig config;
    if (!google::protobuf::TextFormat::ParseFromString(kConfig, &config)) std::abort();
    auto definitions = dataloader::server::ToDefinitions(config, made->ops);
    if (!definitions.ok()) std::abort();
    for (PipelineDefinition& definition : *definitions) {
      std::string name = definition.name;
      made->pipelines.emplace(std::move(name), std::move(definition));
    }
    auto runtime = dataloader::Runtime::Create({.num_threads = 1});
    if (!runtime.ok()) std::abort();
    made->runtime = *std::move(runtime);
    return made;
  }();
  return *served;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  TheServer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Served& served = TheServer();
  const uint8_t mode = data[0];
  grpc::Slice slice(data + 1, size - 1);
  grpc::ByteBuffer bytes(&slice, 1);

  dataloader::v1::StreamBatchesRequest request;
  if (!dataloader::server::ParseRequest(bytes, request).ok()) return 0;
  auto pipeline = served.pipelines.find(request.pipeline());
  const PipelineDefinition& definition =
      pipeline != served.pipelines.end() ? pipeline->second : served.pipelines.begin()->second;
  if ((mode & 1) != 0 && !request.resume_token().empty()) {
    std::string point = request.resume_token();
    dataloader::v1::internal::ResumePoint parsed;
    if ((mode & 2) != 0 && parsed.ParseFromString(point)) {
      parsed.set_config_fingerprint(definition.config_fingerprint);
      point = parsed.SerializeAsString();
    }
    dataloader::v1::internal::ResumeToken token;
    token.set_checksum(dataloader::server::FingerprintOf(point));
    token.set_point(std::move(point));
    request.set_resume_token(token.SerializeAsString());
  }
  absl::StatusOr<dataloader::server::ValidStreamRequest> valid =
      dataloader::server::ValidateStreamRequest(request, definition);
  if (!valid.ok()) return 0;
  // Built, never started: what Prepare hands to the reactor.
  (void)dataloader::server::BuildStreamPipeline(definition, valid->request, *served.runtime,
                                                served.ops);
  return 0;
}
