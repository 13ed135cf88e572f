// Copyright 2026 The dataloader Authors.

#include "server/service/data_loader_service.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server.h>

#include <cinttypes>
#include <cstdio>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/mutex.h"
#include "rpc/grpc_status.h"
#include "server/service/metrics.h"
#include "server/service/resume_token.h"
#include "server/service/wire_batch.h"

namespace dataloader::server {
namespace {

// A stream refused before it starts (its request does not parse).
class RefusedStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

// One StreamBatches call. Created by the service on a gRPC thread; deletes itself in OnDone.
class BatchStreamReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  BatchStreamReactor(DataLoaderService& service, grpc::CallbackServerContext& context,
                     const v1::StreamBatchesRequest& request)
      : service_(service), peer_(context.peer()), request_(request), start_(absl::Now()) {
    ++service_.active_streams_;
    absl::Status started = Begin();
    if (!started.ok()) {
      {
        MutexLock lock(&mu_);
        finished_ = true;
        final_status_ = started;
      }
      if (service_.options_.metrics != nullptr) service_.options_.metrics->StreamRefused(started);
      Finish(ToGrpcStatus(started));
      return;
    }
    if (service_.options_.metrics != nullptr) {
      metrics_ = service_.options_.metrics->StreamStarted(
          request_.pipeline(), [pipeline = pipeline_.get()] { return pipeline->Stats(); });
    }
    {
      MutexLock lock(&service_.streams_mu_);
      service_.streams_.insert(this);
    }
    if (service_.options_.log_streams) {
      std::fprintf(stderr,
                   "stream start: peer=%s pipeline=%s shard=%u/%u epoch=%" PRIu64
                   " from_batch=%" PRId64 "\n",
                   peer_.c_str(), request_.pipeline().c_str(), request_.shard_index(), ShardCount(),
                   request_.epoch(), next_sequence_);
    }
    Pump();
  }

  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> finish;
    {
      MutexLock lock(&mu_);
      write_in_flight_ = false;
      if (metrics_ != nullptr) metrics_->WriteDone(ok, static_cast<int64_t>(wire_.Length()));
      if (ok) {
        ++batches_;
        bytes_ += static_cast<int64_t>(wire_.Length());
      }
      if (!ok || cancelled_) {
        finish =
            FinishLocked(absl::CancelledError(ok ? "cancelled by the client" : "client went away"));
      } else if (drained_.load()) {
        finish = FinishLocked(DrainedStatus());
      }
    }
    if (finish.has_value()) {
      Finish(*finish);
      return;
    }
    Pump();
  }

  void OnCancel() override {
    if (pipeline_ != nullptr) pipeline_->Cancel();
    std::optional<grpc::Status> finish;
    {
      MutexLock lock(&mu_);
      cancelled_ = true;
      // With a write in flight, OnWriteDone finishes (no Finish while a write is pending).
      if (!write_in_flight_) finish = FinishLocked(absl::CancelledError("cancelled by the client"));
    }
    if (finish.has_value()) Finish(*finish);
  }

  void OnDone() override {
    {
      MutexLock lock(&service_.streams_mu_);
      service_.streams_.erase(this);
    }
    // Stop() returns once no callback of the pipeline runs, and none will run after it.
    if (pipeline_ != nullptr) pipeline_->Stop().IgnoreError();
    if (metrics_ != nullptr) {  // After Stop(): the pipeline's stats are final.
      absl::Status status;
      {
        MutexLock lock(&mu_);
        status = final_status_;
      }
      metrics_->End(status);
    }
    if (service_.options_.log_streams) {
      MutexLock lock(&mu_);
      std::fprintf(stderr,
                   "stream end: peer=%s pipeline=%s shard=%u/%u batches=%" PRId64 " bytes=%" PRId64
                   " duration=%s status=%s\n",
                   peer_.c_str(), request_.pipeline().c_str(), request_.shard_index(), ShardCount(),
                   batches_, bytes_, absl::FormatDuration(absl::Now() - start_).c_str(),
                   final_status_.ok() ? "OK" : final_status_.ToString().c_str());
    }
    --service_.active_streams_;
    delete this;
  }

 private:
  uint32_t ShardCount() const { return request_.shard_count() == 0 ? 1 : request_.shard_count(); }

  // Validates the request and builds the stream's pipeline.
  absl::Status Begin() {
    if (service_.draining_.load()) {
      return absl::UnavailableError(
          "server is shutting down; retry on another replica (resume with your resume_token)");
    }
    if (service_.active_streams_.load() > service_.options_.max_streams) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "too many streams: this server serves at most ", service_.options_.max_streams,
          " at once; retry later or use another replica"));
    }
    auto served = service_.pipelines_.find(request_.pipeline());
    if (served == service_.pipelines_.end()) {
      std::vector<std::string> names;
      for (const auto& [name, entry] : service_.pipelines_) names.push_back(name);
      return absl::NotFoundError(absl::StrCat("unknown pipeline '", request_.pipeline(),
                                              "' (serving: ", absl::StrJoin(names, ", "), ")"));
    }
    const PipelineDefinition& definition = served->second.definition;
    if (request_.shard_index() >= ShardCount()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shard_index must be < shard_count (", ShardCount(), "), got ", request_.shard_index()));
    }
    next_sequence_ = 0;
    if (!request_.resume_token().empty()) {
      absl::StatusOr<v1::internal::ResumePoint> point = DecodeResumeToken(request_.resume_token());
      if (!point.ok()) return point.status();
      if (point->pipeline() != request_.pipeline() ||
          point->config_fingerprint() != definition.config_fingerprint ||
          point->shard_index() != request_.shard_index() || point->shard_count() != ShardCount() ||
          point->epoch() != request_.epoch() || point->seed() != request_.seed()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "resume_token was issued for pipeline '", point->pipeline(), "' shard ",
            point->shard_index(), "/", point->shard_count(), " epoch ", point->epoch(), " seed ",
            point->seed(),
            point->config_fingerprint() != definition.config_fingerprint ? " (another config)" : "",
            ", not for this request"));
      }
      next_sequence_ = static_cast<int64_t>(point->next_sequence());
    }
    absl::StatusOr<std::unique_ptr<Pipeline<CollatedBatch>>> pipeline =
        BuildStreamPipeline(definition,
                            {.shard_index = request_.shard_index(),
                             .shard_count = ShardCount(),
                             .epoch = request_.epoch(),
                             .seed = request_.seed(),
                             .start_sequence = next_sequence_,
                             .max_batches = static_cast<int64_t>(request_.max_batches())},
                            service_.runtime_);
    if (!pipeline.ok()) return pipeline.status();
    pipeline_ = *std::move(pipeline);
    fingerprint_ = definition.config_fingerprint;
    return absl::OkStatus();
  }

  // Takes the next batch if one is ready and no write is in flight; otherwise waits for the
  // pipeline without blocking. Called from the constructor, OnWriteDone and the pipeline's
  // ready callback (on the runtime's event loop).
  void Pump() {
    std::optional<grpc::Status> finish;
    bool write = false;
    {
      MutexLock lock(&mu_);
      if (finished_ || write_in_flight_) return;
      absl::StatusOr<std::optional<CollatedBatch>> next = pipeline_->TryNext();
      if (!next.ok()) {
        absl::Status end = absl::IsOutOfRange(next.status()) ? absl::OkStatus() : next.status();
        // Drain cancelled the pipeline: tell the client to resume elsewhere.
        if (drained_.load() && absl::IsCancelled(end)) end = DrainedStatus();
        finish = FinishLocked(end);
      } else if (!next->has_value()) {
        pipeline_->NotifyWhenReady([this] { Pump(); });
        return;
      } else {
        if (metrics_ != nullptr) metrics_->BatchTaken();
        const int64_t sequence = (*next)->sequence;
        v1::internal::ResumePoint point;
        point.set_pipeline(request_.pipeline());
        point.set_config_fingerprint(fingerprint_);
        point.set_shard_index(request_.shard_index());
        point.set_shard_count(ShardCount());
        point.set_epoch(request_.epoch());
        point.set_seed(request_.seed());
        point.set_next_sequence(static_cast<uint64_t>(sequence + 1));
        wire_ = EncodeBatch(std::move(**next), EncodeResumeToken(point));
        write_in_flight_ = true;
        write = true;
      }
    }
    if (write) StartWrite(&wire_);
    if (finish.has_value()) Finish(*finish);
  }

  // Marks the stream finished and returns the status to pass to Finish(), once.
  std::optional<grpc::Status> FinishLocked(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return std::nullopt;
    finished_ = true;
    final_status_ = status;
    return ToGrpcStatus(status);
  }

  static absl::Status DrainedStatus() {
    return absl::UnavailableError(
        "server is shutting down (drain deadline passed); resume on another replica with the "
        "last batch's resume_token");
  }

  // Called by DataLoaderService::Drain with streams_mu_ held (so this reactor is alive): the
  // pipeline's cancellation reaches Pump (through the ready callback, on the event loop, or
  // OnWriteDone), which finishes with UNAVAILABLE. Nothing here calls back into gRPC.
  void EndForDrain() {
    drained_.store(true);
    pipeline_->Cancel();
  }

  friend class DataLoaderService;

  std::atomic<bool> drained_{false};
  DataLoaderService& service_;
  const std::string peer_;
  const v1::StreamBatchesRequest request_;
  const absl::Time start_;
  // Set in the constructor, before any reaction.
  std::unique_ptr<Pipeline<CollatedBatch>> pipeline_;
  // Null without metrics. Declared after pipeline_ so that it goes first: it reads its stats.
  std::unique_ptr<StreamMetrics> metrics_;
  int64_t next_sequence_ = 0;
  uint64_t fingerprint_ = 0;

  Mutex mu_;
  // The write in flight, an encoded v1::Batch (gRPC reads it until OnWriteDone).
  grpc::ByteBuffer wire_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
  int64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::StatusOr<std::unique_ptr<DataLoaderService>> DataLoaderService::Create(
    std::vector<PipelineDefinition> pipelines, Runtime& runtime, const ServiceOptions& options) {
  std::unique_ptr<DataLoaderService> service(new DataLoaderService(runtime, options));
  for (PipelineDefinition& definition : pipelines) {
    // Probe: one batch of shard 0, epoch 0, to learn the tensors a batch carries.
    absl::StatusOr<std::unique_ptr<Pipeline<CollatedBatch>>> probe =
        BuildStreamPipeline(definition, {.max_batches = 1}, runtime);
    if (!probe.ok()) return probe.status();
    absl::StatusOr<CollatedBatch> first = (*probe)->GetItem(absl::Seconds(60));
    if (!first.ok()) {
      return absl::Status(first.status().code(), absl::StrCat("pipeline '", definition.name,
                                                              "' could not produce a first batch: ",
                                                              first.status().message()));
    }
    v1::PipelineInfo info;
    info.set_name(definition.name);
    info.set_description(definition.description);
    info.set_samples_per_epoch(static_cast<uint64_t>(definition.dataset->size()));
    info.set_batch_size(static_cast<uint64_t>(definition.batch_size));
    info.set_drop_last(definition.drop_last);
    info.set_shuffle(definition.shuffle);
    // Batches are assembled by position (stream_pipeline.h): exact whatever each stage's order.
    info.set_exact_order(true);
    info.set_remainder_policy(v1::REMAINDER_POLICY_DROP);
    const int64_t rows = static_cast<int64_t>(first->sample_ids.size());
    uint64_t bytes = 4096 + 16 * static_cast<uint64_t>(definition.batch_size);
    for (const BatchTensor& tensor : first->tensors) {
      v1::TensorSpec* spec = info.add_tensors();
      spec->set_name(tensor.name);
      spec->set_dtype(static_cast<v1::DType>(tensor.dtype));
      spec->add_shape(definition.batch_size);
      for (size_t d = 1; d < tensor.shape.size(); ++d) spec->add_shape(tensor.shape[d]);
      if (rows > 0) bytes += tensor.data.size() / rows * definition.batch_size + 64;
    }
    info.set_max_batch_bytes(bytes);
    std::string name = definition.name;
    service->pipelines_.emplace(name, Served{std::move(definition), std::move(info)});
  }
  return service;
}

void MarkServingInHealthService(grpc::Server& server) {
  if (grpc::HealthCheckServiceInterface* health = server.GetHealthCheckService()) {
    health->SetServingStatus(v1::DataLoader::service_full_name(), true);
  }
}

int DataLoaderService::Drain(absl::Time deadline) {
  draining_.store(true);
  auto wait_until = [this](absl::Time until) {
    while (active_streams_.load() > 0 && absl::Now() < until)
      absl::SleepFor(absl::Milliseconds(10));
  };
  wait_until(deadline);
  int ended = 0;
  {
    MutexLock lock(&streams_mu_);
    for (BatchStreamReactor* stream : streams_) {
      stream->EndForDrain();
      ++ended;
    }
  }
  // A write in flight to a stalled client is bounded by gRPC's own shutdown after this.
  wait_until(absl::Now() + absl::Seconds(3));
  return ended;
}

std::vector<PipelineStats> DataLoaderService::StreamStats() const {
  std::vector<PipelineStats> stats;
  MutexLock lock(&streams_mu_);
  for (const BatchStreamReactor* stream : streams_) stats.push_back(stream->pipeline_->Stats());
  return stats;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* DataLoaderService::StreamBatches(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes) {
  v1::StreamBatchesRequest request;
  grpc::ByteBuffer copy(*request_bytes);  // Shares the slices; Deserialize wants a mutable one.
  grpc::Status parsed =
      grpc::SerializationTraits<v1::StreamBatchesRequest>::Deserialize(&copy, &request);
  if (!parsed.ok()) {
    return new RefusedStream(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("request is not a dataloader.v1.StreamBatchesRequest: ",
                                  parsed.error_message())));
  }
  return new BatchStreamReactor(*this, *context, request);
}

grpc::ServerUnaryReactor* DataLoaderService::ListPipelines(grpc::CallbackServerContext* context,
                                                           const v1::ListPipelinesRequest*,
                                                           v1::ListPipelinesResponse* response) {
  for (const auto& [name, served] : pipelines_) *response->add_pipelines() = served.info;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace dataloader::server
