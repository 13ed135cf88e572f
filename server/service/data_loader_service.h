// Copyright 2026 The dataloader Authors.
//
// DataLoaderService: dataloader.v1.DataLoader on the gRPC callback API.
//
// Each StreamBatches call gets its own pipeline (BuildStreamPipeline) on the server-wide
// Runtime, driven by a ServerWriteReactor that never blocks a gRPC thread: it takes batches
// with TryNext(), waits with NotifyWhenReady(), and keeps one write in flight. A slow client
// stalls only its own pipeline (bounded by the pipeline's buffers); a cancelled or
// disconnected client stops its pipeline at once.
//
// Thread-safe.
#ifndef SERVER_SERVICE_DATA_LOADER_SERVICE_H_
#define SERVER_SERVICE_DATA_LOADER_SERVICE_H_

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/mutex.h"
#include "core/pipeline_stats.h"
#include "core/runtime.h"
#include "dataloader/v1/data_loader.grpc.pb.h"
#include "server/pipeline/stream_pipeline.h"

namespace dataloader::server {

class BatchStreamReactor;
class ServerMetrics;

struct ServiceOptions {
  // Streams served at once; more get RESOURCE_EXHAUSTED. Default 64.
  int max_streams = 64;
  // Log one line per stream start and end to stderr. Default true.
  bool log_streams = true;
  // Where streams report their metrics (server/metrics.h); must outlive the service. Null:
  // no metrics.
  ServerMetrics* metrics = nullptr;
};

// StreamBatches is served raw (its request parsed here, its batches encoded by EncodeBatch
// without copying payloads); ListPipelines through the generated callback method.
using DataLoaderServiceBase = v1::DataLoader::WithRawCallbackMethod_StreamBatches<
    v1::DataLoader::WithCallbackMethod_ListPipelines<v1::DataLoader::Service>>;

class DataLoaderService final : public DataLoaderServiceBase {
 public:
  // Probes each pipeline (builds it and takes one batch) to describe its tensors; fails if
  // any pipeline cannot produce a batch. `runtime` must outlive the service.
  static absl::StatusOr<std::unique_ptr<DataLoaderService>> Create(
      std::vector<PipelineDefinition> pipelines, Runtime& runtime, const ServiceOptions& options);

  grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamBatches(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* ListPipelines(grpc::CallbackServerContext* context,
                                          const v1::ListPipelinesRequest* request,
                                          v1::ListPipelinesResponse* response) override;

  int active_streams() const { return active_streams_.load(); }

  // Graceful shutdown (dataloader_server calls it on SIGTERM, after marking health
  // NOT_SERVING): new streams are refused with UNAVAILABLE; running streams may finish until
  // `deadline`; those still running then end with UNAVAILABLE, so clients resume elsewhere
  // with their last resume_token. Returns once every stream has ended (or `deadline` plus a
  // few seconds passed), with the number of streams it ended.
  int Drain(absl::Time deadline);
  // A snapshot of every live stream's pipeline stats (for metrics and tests).
  std::vector<PipelineStats> StreamStats() const;

 private:
  friend class BatchStreamReactor;
  struct Served {
    PipelineDefinition definition;
    v1::PipelineInfo info;
  };

  DataLoaderService(Runtime& runtime, const ServiceOptions& options)
      : runtime_(runtime), options_(options) {}

  // Constant after Create().
  Runtime& runtime_;
  const ServiceOptions options_;
  std::map<std::string, Served> pipelines_;

  std::atomic<int> active_streams_{0};
  std::atomic<bool> draining_{false};

  // Live streams, for StreamStats(). Lock order: this before any pipeline's own lock.
  mutable Mutex streams_mu_;
  std::set<BatchStreamReactor*> streams_ ABSL_GUARDED_BY(streams_mu_);
};

// Marks dataloader.v1.DataLoader SERVING in gRPC's default health service under its full
// name, as data_loader.proto promises ("" is SERVING by default). Call once the server started;
// SetServingStatus(false) later covers both names.
void MarkServingInHealthService(grpc::Server& server);

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_DATA_LOADER_SERVICE_H_
