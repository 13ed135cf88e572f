// Copyright 2026 The dataloader Authors.

#include "server/service/batch_stream_reactor.h"

#include <cinttypes>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "rpc/grpc_status.h"
#include "server/service/client_text.h"
#include "server/service/wire_batch.h"

namespace dataloader::server {
namespace {

absl::Status DrainedStatus() {
  return absl::UnavailableError(
      "server is shutting down (drain deadline passed); resume on another replica with the "
      "last batch's resume_token");
}

// "decode 71% of task time": the stage whose tasks took the most time, for the end log line.
std::string BusiestStage(const PipelineStats& stats) {
  absl::Duration total, most;
  std::string name = "-";
  for (const StageStats& stage : stats.stages) {
    const absl::Duration time = stage.task_times.total();
    total += time;
    if (time > most) {
      most = time;
      name = stage.name;
    }
  }
  if (total <= absl::ZeroDuration()) return name;
  return absl::StrFormat("%s (%.0f%% of task time)", name, 100 * absl::FDivDuration(most, total));
}

}  // namespace

void StreamTeardowns::Begin() {
  MutexLock lock(&mu_);
  ++in_progress_;
}

void StreamTeardowns::End() {
  MutexLock lock(&mu_);
  --in_progress_;
}

bool StreamTeardowns::AwaitNone(absl::Time deadline) {
  MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(absl::Condition(
                                   +[](int64_t* count) { return *count == 0; }, &in_progress_),
                               deadline);
}

BatchStreamReactor::BatchStreamReactor(const Services& services, std::string peer,
                                       StreamIdentity stream,
                                       std::unique_ptr<Pipeline<CollatedBatch>> pipeline)
    : services_(services),
      peer_(std::move(peer)),
      stream_(std::move(stream)),
      start_(absl::Now()),
      pipeline_(std::move(pipeline)) {}

BatchStreamReactor* BatchStreamReactor::Refuse(const Services& services,
                                               const absl::Status& status) {
  auto* reactor = new BatchStreamReactor(services, "", {}, nullptr);
  services.metrics->StreamRefused(status);
  {
    MutexLock lock(&reactor->mu_);
    reactor->finished_ = true;
    reactor->final_status_ = status;
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

BatchStreamReactor* BatchStreamReactor::Serve(const Services& services, std::string peer,
                                              StreamIdentity stream, int64_t first_sequence,
                                              std::unique_ptr<Pipeline<CollatedBatch>> pipeline) {
  auto* reactor =
      new BatchStreamReactor(services, std::move(peer), std::move(stream), std::move(pipeline));
  if (absl::Status admitted = services.streams->Admit(reactor); !admitted.ok()) {
    services.metrics->StreamRefused(admitted);
    {
      MutexLock lock(&reactor->mu_);
      reactor->finished_ = true;
      reactor->final_status_ = admitted;
    }
    reactor->Finish(ToGrpcStatus(admitted));
    return reactor;
  }
  {
    MutexLock lock(&reactor->mu_);
    reactor->metrics_ = services.metrics->StreamStarted(
        reactor->stream_.pipeline,
        [pipeline = reactor->pipeline_.get()] { return pipeline->Stats(); });
  }
  if (services.log_streams) {
    const StreamIdentity& id = reactor->stream_;
    std::fprintf(stderr,
                 "stream start: peer=%s pipeline=%s shard=%u/%u epoch=%" PRIu64
                 " from_batch=%" PRId64 "\n",
                 reactor->peer_.c_str(), id.pipeline.c_str(), id.shard_index, id.shard_count,
                 id.epoch, first_sequence);
  }
  reactor->Pump();
  return reactor;
}

void BatchStreamReactor::OnWriteDone(bool ok) {
  std::optional<grpc::Status> finish;
  {
    MutexLock lock(&mu_);
    write_in_flight_ = false;
    metrics_->WriteDone(ok, static_cast<int64_t>(wire_.Length()));
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
    SendStatus(*finish);
    return;
  }
  Pump();
}

void BatchStreamReactor::OnCancel() {
  if (pipeline_ != nullptr) pipeline_->Cancel();
  std::optional<grpc::Status> finish;
  {
    MutexLock lock(&mu_);
    cancelled_ = true;
    // With a write in flight, OnWriteDone finishes (no Finish while a write is pending).
    if (!write_in_flight_) finish = FinishLocked(absl::CancelledError("cancelled by the client"));
  }
  if (finish.has_value()) SendStatus(*finish);
}

void BatchStreamReactor::OnDone() {
  if (pipeline_ == nullptr) {  // Refused before it had a pipeline: nothing runs.
    delete this;
    return;
  }
  services_.streams->Release(this);
  absl::Status status;
  {
    MutexLock lock(&mu_);
    status = final_status_;
    if (metrics_ != nullptr) metrics_->End(status);
  }
  if (metrics_ != nullptr) LogEnd(status);
  // Never wait for the pipeline here: StopAsync returns at once; its completion runs once no
  // stage call of this stream runs any more, and only then is the reactor deleted.
  std::shared_ptr<StreamTeardowns> teardowns = services_.teardowns;
  teardowns->Begin();
  pipeline_->StopAsync([this, teardowns] {
    delete this;
    teardowns->End();
  });
}

void BatchStreamReactor::LogEnd(const absl::Status& status) {
  if (!services_.log_streams) return;
  MutexLock lock(&mu_);
  std::fprintf(stderr,
               "stream end: peer=%s pipeline=%s shard=%u/%u batches=%" PRId64 " bytes=%" PRId64
               " duration=%s busiest=%s waited_on_pipeline=%.3fs waited_on_client=%.3fs "
               "status=%s\n",
               peer_.c_str(), stream_.pipeline.c_str(), stream_.shard_index, stream_.shard_count,
               batches_, bytes_, absl::FormatDuration(absl::Now() - start_).c_str(),
               BusiestStage(pipeline_->Stats()).c_str(), metrics_->seconds_waiting_on_pipeline(),
               metrics_->seconds_waiting_on_client(),
               status.ok() ? "OK" : status.ToString().c_str());
}

void BatchStreamReactor::Pump() {
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
      metrics_->BatchTaken();
      const int64_t sequence = (*next)->sequence;
      wire_ = EncodeBatch(std::move(**next), ResumeToken(stream_, sequence + 1));
      write_in_flight_ = true;
      write = true;
    }
  }
  if (write) StartWrite(&wire_);
  if (finish.has_value()) SendStatus(*finish);
}

std::optional<grpc::Status> BatchStreamReactor::FinishLocked(absl::Status status) {
  if (finished_) return std::nullopt;
  finished_ = true;
  final_status_ = status;
  return ToGrpcStatus(status);
}

void BatchStreamReactor::SendStatus(const grpc::Status& status) {
  services_.streams->Release(this);
  Finish(status);
}

void BatchStreamReactor::EndForDrain() {
  drained_.store(true);
  pipeline_->Cancel();
}

}  // namespace dataloader::server
