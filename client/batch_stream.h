// Copyright 2026 The dataloader Authors.
//
// BatchStream: the batches of one StreamBatches call, read ahead on a background thread and
// resumed automatically when the connection breaks. Two message types:
//   BatchStream          = BasicBatchStream<v1::Batch>      (protobuf messages)
//   ReceivedBatchStream  = BasicBatchStream<ReceivedBatch>  (payloads viewed in gRPC's
//                          memory, copied at most once; see client/received_batch.h)
//
//   v1::StreamBatchesRequest request;
//   request.set_pipeline("synthetic");
//   request.set_shard_index(rank);
//   request.set_shard_count(world_size);
//   request.set_epoch(epoch);
//   auto stream = BatchStream::Open({.target = "loader:50051"}, request);
//   if (!stream.ok()) return stream.status();
//   while (true) {
//     absl::StatusOr<std::optional<v1::Batch>> batch = (*stream)->Next();
//     if (!batch.ok()) return batch.status();  // the call failed for good
//     if (!batch->has_value()) break;          // the shard's epoch is complete
//     auto image = TensorView<float>((*batch)->tensors(0));
//     ...
//   }
//
// Prefetch: a reader thread keeps up to ClientOptions::prefetch received batches ready, and
// stops reading while that buffer is full (so a slow trainer slows the server down rather than
// growing memory).
//
// Resume: if the call fails with UNAVAILABLE (the server drains or restarts, the connection
// breaks) or RESOURCE_EXHAUSTED (the server has as many streams as it accepts; the .proto
// says to retry with backoff or on another replica), the reader calls StreamBatches again
// with the resume_token of the last batch it received, after an exponential backoff, up to
// ClientOptions::max_retries attempts in a row without a batch received; with
// ClientOptions::failover_targets, each attempt goes to the next server in turn. The caller
// sees one uninterrupted stream: sequence 0, 1, 2, ... without gaps or repeats. Any other
// failure (NOT_FOUND, INVALID_ARGUMENT, ABORTED, ...) is not retried: Next() returns it,
// after the batches received before it.
#ifndef CLIENT_BATCH_STREAM_H_
#define CLIENT_BATCH_STREAM_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/client_options.h"
#include "client/received_batch.h"
#include "dataloader/v1/data_loader.grpc.pb.h"

namespace dataloader::client {

// Thread-safe: Next() is meant for one consumer thread, Cancel() and the stats may be called
// from any thread. Owns a thread: not copyable or movable. `BatchT` is v1::Batch or
// ReceivedBatch (instantiated for those two in batch_stream.cc).
template <typename BatchT>
class BasicBatchStream {
 public:
  // Validates `options` (InvalidArgument naming the field) and `request` (a pipeline name is
  // required) and starts reading. Connection and server errors are not reported here but by
  // Next(), after retries where they apply. `request.resume_token` may be set to start after a
  // batch received earlier.
  static absl::StatusOr<std::unique_ptr<BasicBatchStream>> Open(const ClientOptions& options,
                                                                v1::StreamBatchesRequest request);

  BasicBatchStream(const BasicBatchStream&) = delete;
  BasicBatchStream& operator=(const BasicBatchStream&) = delete;

  // Cancels the call and joins the reader thread (promptly: the call is cancelled, not
  // drained).
  ~BasicBatchStream();

  // Blocks until the next batch is available and returns it. At the clean end of the stream
  // (the server ended the call with OK: the shard's epoch or max_batches is done) returns
  // std::nullopt, and again on every later call. If the stream failed, returns the batches
  // received before the failure first, then the failure's status (with the gRPC code), and
  // the same status on every later call. After Cancel(), returns Cancelled. A received
  // message that cannot be parsed (ReceivedBatch) fails the stream with INTERNAL naming what
  // was wrong.
  absl::StatusOr<std::optional<BatchT>> Next();

  // Stops the stream: cancels the call in flight (ClientContext::TryCancel) and any backoff,
  // drops the buffered batches and makes Next() return Cancelled (also to a Next() blocked
  // in another thread). Idempotent.
  void Cancel();

  // Times the reader called StreamBatches again after a retryable failure.
  int reconnects() const;
  // The resume token of the last batch Next() returned (before the first: the request's
  // resume_token): with the same request fields, it continues the stream in a later
  // BatchStream or process.
  std::string resume_token() const;

 private:
  BasicBatchStream(const ClientOptions& options, v1::StreamBatchesRequest request);

  void ReadLoop();
  // One StreamBatches call from last_token_ on `channel`, queueing its batches; returns its
  // final status. Sets `received_any` if it queued a batch.
  grpc::Status ReadOnce(grpc::Channel& channel, bool& received_any);
  // Waits `delay` or until cancelled; false if cancelled.
  bool Backoff(absl::Duration delay);

  // Constant after construction.
  const ClientOptions options_;
  const v1::StreamBatchesRequest request_;

  // Where ReceivedBatch copies its payloads: the buffers of the batches the caller has let go
  // of are reused (see client/buffer_pool.h). Unused for v1::Batch.
  const std::shared_ptr<BufferPool> buffer_pool_;

  // Touched by the reader thread only.
  std::string last_token_;
  // The sequence the next batch must have (unknown before the first batch of a stream opened
  // with a resume_token).
  std::optional<uint64_t> expected_sequence_;
  uint64_t received_ = 0;

  mutable absl::Mutex mu_;
  std::deque<BatchT> queue_ ABSL_GUARDED_BY(mu_);
  // Set once when the reader ends: OK for a clean end, the failure otherwise.
  std::optional<absl::Status> final_status_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // The call in flight, for Cancel(); null between calls.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  int reconnects_ ABSL_GUARDED_BY(mu_) = 0;
  std::string returned_token_ ABSL_GUARDED_BY(mu_);

  std::thread reader_;
};

extern template class BasicBatchStream<v1::Batch>;
extern template class BasicBatchStream<ReceivedBatch>;
using BatchStream = BasicBatchStream<v1::Batch>;
using ReceivedBatchStream = BasicBatchStream<ReceivedBatch>;

}  // namespace dataloader::client

#endif  // CLIENT_BATCH_STREAM_H_
