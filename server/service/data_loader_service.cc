// Copyright 2026 The dataloader Authors.

#include "server/service/data_loader_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "rpc/grpc_status.h"
#include "server/pipeline/stream_pipeline.h"
#include "server/service/client_text.h"
#include "server/service/pipeline_info.h"
#include "server/service/request_parser.h"

namespace dataloader::server {
namespace {

// After the drain deadline, how long Drain() waits for the ended streams' statuses to go out
// (a write in flight to a stalled client is bounded by gRPC's own shutdown after this).
constexpr absl::Duration kDrainTail = absl::Seconds(3);
// How long the destructor waits for ended streams' pipelines to stop.
constexpr absl::Duration kTeardownWait = absl::Seconds(5);

}  // namespace

DataLoaderService::DataLoaderService(Runtime& runtime, const OpRegistry& ops,
                                     const ServiceOptions& options)
    : runtime_(runtime), ops_(ops), options_(options), streams_(options.max_streams) {
  if (options.metrics == nullptr) own_metrics_ = *ServerMetrics::Create({});
  metrics_ = options.metrics != nullptr ? options.metrics : own_metrics_.get();
}

absl::StatusOr<std::unique_ptr<DataLoaderService>> DataLoaderService::Create(
    std::vector<PipelineDefinition> pipelines, Runtime& runtime, const OpRegistry& ops,
    const ServiceOptions& options) {
  if (options.max_streams < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_streams must be >= 1, got ", options.max_streams));
  }
  std::unique_ptr<DataLoaderService> service(new DataLoaderService(runtime, ops, options));
  absl::StatusOr<std::unique_ptr<FailureLog>> failure_log =
      FailureLog::Create(options.failure_log, service->metrics_);
  if (!failure_log.ok()) return failure_log.status();
  service->failure_log_ = *std::move(failure_log);
  for (PipelineDefinition& definition : pipelines) {
    // The probe's failures are not reported: its samples are streamed (and reported) again.
    absl::StatusOr<v1::PipelineInfo> info = DescribePipeline(definition, runtime, ops);
    if (!info.ok()) return info.status();
    // Streams check each sample against the probe's, so that one that does not stack fails
    // alone instead of its whole batch.
    for (const v1::TensorSpec& tensor : info->tensors()) {
      definition.sample_tensors.push_back(
          {.name = tensor.name(),
           .dtype = static_cast<DType>(tensor.dtype()),
           .shape = std::vector<int64_t>(tensor.shape().begin() + 1, tensor.shape().end())});
    }
    std::string name = definition.name;
    std::shared_ptr<FailureReporter> failures = service->failure_log_->ForPipeline(definition);
    service->pipelines_.emplace(
        std::move(name), Served{std::move(definition), *std::move(info), std::move(failures)});
  }
  return service;
}

DataLoaderService::~DataLoaderService() {
  // A stage call that never returns keeps its stream from being torn down: give up after a
  // while rather than hang (that stream's reactor and pipeline are then never freed).
  teardowns_->AwaitNone(absl::Now() + kTeardownWait);
}

absl::StatusOr<DataLoaderService::Stream> DataLoaderService::Prepare(
    const grpc::ByteBuffer& bytes) const {
  v1::StreamBatchesRequest request;
  if (absl::Status parsed = ParseRequest(bytes, request); !parsed.ok()) return parsed;
  auto served = pipelines_.find(request.pipeline());
  if (served == pipelines_.end()) {
    std::vector<std::string> names;
    for (const auto& [name, entry] : pipelines_) names.push_back(name);
    return absl::NotFoundError(absl::StrCat("unknown pipeline ",
                                            QuoteClientText(request.pipeline()),
                                            " (serving: ", absl::StrJoin(names, ", "), ")"));
  }
  const PipelineDefinition& definition = served->second.definition;
  absl::StatusOr<ValidStreamRequest> valid = ValidateStreamRequest(request, definition);
  if (!valid.ok()) return valid.status();
  Stream stream;
  stream.identity = std::move(valid->identity);
  stream.first_sequence = valid->request.start_sequence;
  absl::StatusOr<std::unique_ptr<Pipeline<CollatedBatch>>> pipeline =
      BuildStreamPipeline(definition, valid->request, runtime_, ops_, served->second.failures);
  if (!pipeline.ok()) return pipeline.status();
  stream.pipeline = *std::move(pipeline);
  return stream;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* DataLoaderService::StreamBatches(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  const BatchStreamReactor::Services services{.streams = &streams_,
                                              .metrics = metrics_,
                                              .teardowns = teardowns_,
                                              .log_streams = options_.log_streams};
  absl::StatusOr<Stream> stream = Prepare(*request);
  if (!stream.ok()) return BatchStreamReactor::Refuse(services, stream.status());
  return BatchStreamReactor::Serve(services, context->peer(), std::move(stream->identity),
                                   stream->first_sequence, std::move(stream->pipeline));
}

grpc::ServerUnaryReactor* DataLoaderService::ListPipelines(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  v1::ListPipelinesRequest parsed;
  if (absl::Status status = ParseRequest(*request, parsed); !status.ok()) {
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }
  v1::ListPipelinesResponse answer;
  for (const auto& [name, served] : pipelines_) *answer.add_pipelines() = served.info;
  grpc::Slice slice(answer.SerializeAsString());
  *response = grpc::ByteBuffer(&slice, 1);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

int DataLoaderService::Drain(absl::Time deadline) {
  streams_.BeginDrain();
  streams_.AwaitNone(deadline);
  int ended = 0;
  streams_.ForEach([&ended](ServedStream& stream) {
    stream.EndForDrain();
    ++ended;
  });
  streams_.AwaitNone(absl::Now() + kDrainTail);
  return ended;
}

std::vector<PipelineStats> DataLoaderService::StreamStats() const {
  std::vector<PipelineStats> stats;
  streams_.ForEach([&stats](ServedStream& stream) { stats.push_back(stream.Stats()); });
  return stats;
}

}  // namespace dataloader::server
