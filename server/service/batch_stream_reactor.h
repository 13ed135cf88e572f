// Copyright 2026 The dataloader Authors.
//
// BatchStreamReactor: one StreamBatches call. It does one job: drive its pipeline and write
// its batches, one write in flight, never blocking a gRPC thread. It takes batches with
// TryNext() and, when none is ready, waits with NotifyWhenReady() (the callback runs on the
// pipeline's event loop). The request was validated and the pipeline built before it exists
// (DataLoaderService); admission is ActiveStreams'.
//
// Lifetime: made by the service, deleted once gRPC is done with it (OnDone) *and* nothing of
// its pipeline runs any more. OnDone never waits for that (a stage call may take seconds or
// never return): it cancels the pipeline with StopAsync, whose completion, on the event loop,
// deletes the reactor. After OnDone the reactor touches neither the service nor its metrics.
//
// Thread-safe: reactions come from gRPC threads, the ready callback from the event loop, and
// EndForDrain from the draining thread; mu_ serializes what they share.
#ifndef SERVER_SERVICE_BATCH_STREAM_REACTOR_H_
#define SERVER_SERVICE_BATCH_STREAM_REACTOR_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/mutex.h"
#include "core/pipeline.h"
#include "server/pipeline/stream_pipeline.h"
#include "server/service/active_streams.h"
#include "server/service/metrics.h"
#include "server/service/resume_token.h"

namespace dataloader::server {

// Counts reactors whose pipelines are still stopping, so that whoever owns the runtime can
// wait for them before destroying it. Thread-safe.
class StreamTeardowns {
 public:
  void Begin();
  void End();
  // Returns whether none is in progress by `deadline`.
  bool AwaitNone(absl::Time deadline);

 private:
  Mutex mu_;
  int64_t in_progress_ ABSL_GUARDED_BY(mu_) = 0;
};

class BatchStreamReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                                 public ServedStream {
 public:
  // What the reactor reports to; `streams` and `metrics` must outlive its OnDone.
  struct Services {
    ActiveStreams* streams = nullptr;
    ServerMetrics* metrics = nullptr;
    std::shared_ptr<StreamTeardowns> teardowns;
    bool log_streams = true;
  };

  // A stream refused before it got a pipeline (bad request, unknown pipeline): finishes at once.
  static BatchStreamReactor* Refuse(const Services& services, const absl::Status& status);
  // A stream of `pipeline` (built, not started) from batch `first_sequence`: admits itself
  // (ActiveStreams::Admit) and streams, or finishes with the refusal.
  static BatchStreamReactor* Serve(const Services& services, std::string peer,
                                   StreamIdentity stream, int64_t first_sequence,
                                   std::unique_ptr<Pipeline<CollatedBatch>> pipeline);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // ServedStream.
  void EndForDrain() override;
  PipelineStats Stats() const override { return pipeline_->Stats(); }

 private:
  BatchStreamReactor(const Services& services, std::string peer, StreamIdentity stream,
                     std::unique_ptr<Pipeline<CollatedBatch>> pipeline);
  ~BatchStreamReactor() override = default;

  // Takes the next batch if one is ready and no write is in flight; otherwise waits for the
  // pipeline without blocking.
  void Pump();
  // Marks the stream finished with `status` and returns what to pass to Finish(), once.
  std::optional<grpc::Status> FinishLocked(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Frees the stream's slot, then sends its status (so a prompt retry finds the slot free).
  void SendStatus(const grpc::Status& status);
  void LogEnd(const absl::Status& status);

  // Constant after construction.
  const Services services_;
  const std::string peer_;
  const StreamIdentity stream_;
  const absl::Time start_;
  // Null for a refused stream.
  const std::unique_ptr<Pipeline<CollatedBatch>> pipeline_;
  // Set once streaming starts; null for a refused stream.
  std::unique_ptr<StreamMetrics> metrics_;
  // Set by EndForDrain: the pipeline's cancellation then ends the stream with UNAVAILABLE.
  std::atomic<bool> drained_{false};

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

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_BATCH_STREAM_REACTOR_H_
