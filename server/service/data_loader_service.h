// Copyright 2026 The dataloader Authors.
//
// DataLoaderService: dataloader.v1.DataLoader on the gRPC callback API, over the pipelines of
// a config. DataLoaderServer (data_loader_server.h) assembles it with a gRPC server; tests of
// the service use that too.
//
// StreamBatches: the request's bytes are parsed strictly (request_parser.h) and validated
// (the pipeline is served, the shard exists, the resume token fits) before the stream asks
// for a slot, so a bad request gets INVALID_ARGUMENT or NOT_FOUND even on a full server. The
// stream's pipeline (BuildStreamPipeline) runs on the server-wide Runtime, driven by a
// BatchStreamReactor. A slow client stalls only its own pipeline; a cancelled or
// disconnected one cancels its pipeline at once, and no gRPC thread ever waits for a stage.
//
// ListPipelines answers the PipelineInfo probed at start-up (pipeline_info.h).
//
// Thread-safe.
#ifndef SERVER_SERVICE_DATA_LOADER_SERVICE_H_
#define SERVER_SERVICE_DATA_LOADER_SERVICE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/pipeline_stats.h"
#include "core/runtime.h"
#include "dataloader/v1/data_loader.grpc.pb.h"
#include "server/ops/op_registry.h"
#include "server/pipeline/pipeline_definition.h"
#include "server/service/active_streams.h"
#include "server/service/batch_stream_reactor.h"
#include "server/service/failure_log.h"
#include "server/service/metrics.h"

namespace dataloader::server {

struct ServiceOptions {
  // Streams served at once; more get RESOURCE_EXHAUSTED. Default 64.
  int max_streams = 64;
  // Log one line per stream start and end to stderr. Default true.
  bool log_streams = true;
  // Where streams report their metrics; must outlive the service. Null: the service keeps
  // its own (without an HTTP endpoint).
  ServerMetrics* metrics = nullptr;
  // How failed samples are logged (rate, where lines go); they are counted in `metrics`.
  FailureLogOptions failure_log = {};
};

// Both methods are served raw: requests are parsed here (strictly, with errors that name the
// field) and batches encoded by EncodeBatch without copying payloads.
using DataLoaderServiceBase = v1::DataLoader::WithRawCallbackMethod_StreamBatches<
    v1::DataLoader::WithRawCallbackMethod_ListPipelines<v1::DataLoader::Service>>;

class DataLoaderService final : public DataLoaderServiceBase {
 public:
  // Describes each pipeline by probing it (DescribePipeline); fails if one cannot serve.
  // `runtime` and `ops` must outlive the service.
  static absl::StatusOr<std::unique_ptr<DataLoaderService>> Create(
      std::vector<PipelineDefinition> pipelines, Runtime& runtime, const OpRegistry& ops,
      const ServiceOptions& options);
  // Waits (up to a few seconds) for ended streams whose pipelines are still stopping, so that
  // the runtime can be destroyed after it.
  ~DataLoaderService() override;

  grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamBatches(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* ListPipelines(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;

  int active_streams() const { return streams_.size(); }

  // From now on new streams are refused with UNAVAILABLE (the first step of Drain()).
  void BeginDrain() { streams_.BeginDrain(); }
  // Graceful shutdown: new streams are refused with UNAVAILABLE; running streams may finish
  // until `deadline`; those still running then end with UNAVAILABLE, so clients resume
  // elsewhere with their last resume_token. Returns once every stream has ended (or
  // `deadline` plus a few seconds passed), with the number of streams it ended.
  int Drain(absl::Time deadline);
  // A snapshot of every live stream's pipeline stats (for tests).
  std::vector<PipelineStats> StreamStats() const;

 private:
  struct Served {
    PipelineDefinition definition;
    v1::PipelineInfo info;
    std::shared_ptr<FailureReporter> failures;  // Of failure_log_.
  };

  DataLoaderService(Runtime& runtime, const OpRegistry& ops, const ServiceOptions& options);

  // The stream `request` asks for, validated and built (not started).
  struct Stream {
    StreamIdentity identity;
    int64_t first_sequence = 0;
    std::unique_ptr<Pipeline<CollatedBatch>> pipeline;
  };
  absl::StatusOr<Stream> Prepare(const grpc::ByteBuffer& request) const;

  // Constant after Create().
  Runtime& runtime_;
  const OpRegistry& ops_;
  const ServiceOptions options_;
  std::unique_ptr<ServerMetrics> own_metrics_;  // When options_.metrics is null.
  ServerMetrics* metrics_;
  std::unique_ptr<FailureLog> failure_log_;
  std::map<std::string, Served> pipelines_;
  std::shared_ptr<StreamTeardowns> teardowns_ = std::make_shared<StreamTeardowns>();

  ActiveStreams streams_;
};

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_DATA_LOADER_SERVICE_H_
