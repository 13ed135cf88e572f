// Copyright 2026 The dataloader Authors.
#include "client/batch_stream.h"

#include <grpcpp/impl/rpc_method.h>
#include <grpcpp/support/sync_stream.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rpc/grpc_status.h"

namespace dataloader::client {
namespace {

// The method as the generated stub names it. The call is made through gRPC's reader factory
// (what the generated stub calls) so that the response type can be ReceivedBatch as well.
constexpr char kStreamBatchesMethod[] = "/dataloader.v1.DataLoader/StreamBatches";

// The codes after which the stream is called again from its last token (see the header).
bool IsRetryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

}  // namespace

template <typename BatchT>
absl::StatusOr<std::unique_ptr<BasicBatchStream<BatchT>>> BasicBatchStream<BatchT>::Open(
    const ClientOptions& options, v1::StreamBatchesRequest request) {
  if (absl::Status valid = ValidateClientOptions(options); !valid.ok()) return valid;
  if (request.pipeline().empty()) {
    return absl::InvalidArgumentError("request.pipeline must not be empty");
  }
  auto stream =
      std::unique_ptr<BasicBatchStream>(new BasicBatchStream(options, std::move(request)));
  stream->reader_ = std::thread([raw = stream.get()] { raw->ReadLoop(); });
  return stream;
}

template <typename BatchT>
BasicBatchStream<BatchT>::BasicBatchStream(const ClientOptions& options,
                                           v1::StreamBatchesRequest request)
    : options_(options),
      request_(std::move(request)),
      // A batch being parsed, the prefetched ones and the caller's come and go: this many
      // idle buffers cover the steady state without holding much more.
      buffer_pool_(BufferPool::Create(static_cast<size_t>(options.prefetch) + 2)),
      last_token_(request_.resume_token()),
      returned_token_(request_.resume_token()) {}

template <typename BatchT>
BasicBatchStream<BatchT>::~BasicBatchStream() {
  Cancel();
  if (reader_.joinable()) reader_.join();
}

template <typename BatchT>
void BasicBatchStream<BatchT>::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  queue_.clear();
  if (context_ != nullptr) context_->TryCancel();
}

template <typename BatchT>
int BasicBatchStream<BatchT>::reconnects() const {
  absl::MutexLock lock(&mu_);
  return reconnects_;
}

template <typename BatchT>
std::string BasicBatchStream<BatchT>::resume_token() const {
  absl::MutexLock lock(&mu_);
  return returned_token_;
}

template <typename BatchT>
absl::StatusOr<std::optional<BatchT>> BasicBatchStream<BatchT>::Next() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](BasicBatchStream* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
        return self->cancelled_ || !self->queue_.empty() || self->final_status_.has_value();
      },
      this));
  if (cancelled_) return absl::CancelledError("the batch stream was cancelled");
  if (!queue_.empty()) {
    BatchT batch = std::move(queue_.front());
    queue_.pop_front();
    returned_token_ = ResumeTokenOf(batch);
    return std::optional<BatchT>(std::move(batch));
  }
  if (final_status_->ok()) return std::optional<BatchT>();
  return *final_status_;
}

template <typename BatchT>
void BasicBatchStream<BatchT>::ReadLoop() {
  std::shared_ptr<grpc::Channel> channel = CreateClientChannel(options_);
  int failures = 0;        // Retryable failures in a row without a batch received.
  size_t target_turn = 0;  // 0: options_.target; i > 0: failover_targets[i - 1].
  absl::Status result;
  while (true) {
    bool received_any = false;
    grpc::Status status = ReadOnce(*channel, received_any);
    if (received_any) failures = 0;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return;  // Next() reports Cancelled; nobody reads final_status_.
    }
    if (status.ok()) break;
    // UNAVAILABLE is what gRPC reports for a server that drains, restarts or cannot be
    // reached and for a connection that breaks; RESOURCE_EXHAUSTED a server with all its
    // stream slots taken (this client's receive limit is unlimited, so it never means an
    // oversized message here). The contract says to retry both from the token, with backoff
    // or on another replica. Everything else (including ABORTED, whose cause may not be
    // transient) goes to the caller, who knows whether repeating the work makes sense.
    if (!IsRetryable(status.error_code()) || failures >= options_.max_retries) {
      result = FromGrpcStatus(status);
      if (IsRetryable(status.error_code()) && options_.max_retries > 0) {
        result = absl::Status(FromGrpcStatus(status).code(),
                              absl::StrCat(status.error_message(), " (gave up after ", failures,
                                           " reconnect attempts)"));
      }
      break;
    }
    const absl::Duration delay = std::min(
        options_.initial_backoff * (int64_t{1} << std::min(failures, 30)), options_.max_backoff);
    ++failures;
    if (!Backoff(delay)) return;
    // A fresh channel: the old one may still hold the broken connection or its backoff. With
    // failover targets, each attempt goes to the next server in turn.
    ClientOptions next = options_;
    if (!options_.failover_targets.empty()) {
      const size_t servers = options_.failover_targets.size() + 1;
      target_turn = (target_turn + 1) % servers;
      if (target_turn > 0) next.target = options_.failover_targets[target_turn - 1];
    }
    channel = CreateClientChannel(next);
    absl::MutexLock lock(&mu_);
    ++reconnects_;
  }
  absl::MutexLock lock(&mu_);
  final_status_ = result;
}

template <typename BatchT>
grpc::Status BasicBatchStream<BatchT>::ReadOnce(grpc::Channel& channel, bool& received_any) {
  v1::StreamBatchesRequest request = request_;
  request.set_resume_token(last_token_);
  if (request_.max_batches() != 0) {
    // max_batches bounds the whole stream the caller sees, not each call of it.
    if (received_ >= request_.max_batches()) return grpc::Status::OK;
    request.set_max_batches(request_.max_batches() - received_);
  }
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return grpc::Status::CANCELLED;
    context_ = &context;
  }
  const grpc::internal::RpcMethod method(kStreamBatchesMethod,
                                         grpc::internal::RpcMethod::SERVER_STREAMING);
  std::unique_ptr<grpc::ClientReader<BatchT>> reader(
      grpc::internal::ClientReaderFactory<BatchT>::Create(&channel, method, &context, request));
  grpc::Status broken;
  BatchT batch;
  AttachBufferPool(batch, buffer_pool_);
  while (reader->Read(&batch)) {
    if (absl::Status parsed = ParseStatusOf(batch); !parsed.ok()) {
      // Not retried: the same server would send the same bytes again.
      broken = grpc::Status(grpc::StatusCode::INTERNAL,
                            absl::StrCat("cannot parse received batch ", received_ + 1,
                                         " of this stream: ", parsed.message()));
      context.TryCancel();
      break;
    }
    const uint64_t sequence = SequenceOf(batch);
    if (expected_sequence_.has_value() && sequence != *expected_sequence_) {
      // The server broke the resume contract; handing this batch on would silently skip or
      // repeat data.
      broken = grpc::Status(grpc::StatusCode::INTERNAL,
                            absl::StrCat("expected the batch of sequence ", *expected_sequence_,
                                         " after resuming, got sequence ", sequence));
      context.TryCancel();
      break;
    }
    received_any = true;
    expected_sequence_ = sequence + 1;
    last_token_ = ResumeTokenOf(batch);
    ++received_;
    absl::MutexLock lock(&mu_);
    // The bound of the prefetch buffer: while it is full this thread stops reading, gRPC's
    // flow control stops the server.
    mu_.Await(absl::Condition(
        +[](BasicBatchStream* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
          return self->cancelled_ ||
                 self->queue_.size() < static_cast<size_t>(self->options_.prefetch);
        },
        this));
    if (cancelled_) break;  // Cancel() has cancelled the call already.
    queue_.push_back(std::move(batch));
    batch = BatchT();
    AttachBufferPool(batch, buffer_pool_);
  }
  grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
  return broken.ok() ? status : broken;
}

template <typename BatchT>
bool BasicBatchStream<BatchT>::Backoff(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  return !mu_.AwaitWithTimeout(absl::Condition(&cancelled_), delay);
}

template class BasicBatchStream<v1::Batch>;
template class BasicBatchStream<ReceivedBatch>;

}  // namespace dataloader::client
