// Copyright 2026 The dataloader Authors.
#include "client/batch_stream.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rpc/grpc_status.h"

namespace dataloader::client {

absl::StatusOr<std::unique_ptr<BatchStream>> BatchStream::Open(const ClientOptions& options,
                                                               v1::StreamBatchesRequest request) {
  if (absl::Status valid = ValidateClientOptions(options); !valid.ok()) return valid;
  if (request.pipeline().empty()) {
    return absl::InvalidArgumentError("request.pipeline must not be empty");
  }
  auto stream = std::unique_ptr<BatchStream>(new BatchStream(options, std::move(request)));
  stream->reader_ = std::thread([raw = stream.get()] { raw->ReadLoop(); });
  return stream;
}

BatchStream::BatchStream(const ClientOptions& options, v1::StreamBatchesRequest request)
    : options_(options), request_(std::move(request)), last_token_(request_.resume_token()) {}

BatchStream::~BatchStream() {
  Cancel();
  if (reader_.joinable()) reader_.join();
}

void BatchStream::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  queue_.clear();
  if (context_ != nullptr) context_->TryCancel();
}

int BatchStream::reconnects() const {
  absl::MutexLock lock(&mu_);
  return reconnects_;
}

std::string BatchStream::resume_token() const {
  absl::MutexLock lock(&mu_);
  return returned_token_;
}

absl::StatusOr<std::optional<v1::Batch>> BatchStream::Next() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](BatchStream* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
        return self->cancelled_ || !self->queue_.empty() || self->final_status_.has_value();
      },
      this));
  if (cancelled_) return absl::CancelledError("the batch stream was cancelled");
  if (!queue_.empty()) {
    v1::Batch batch = std::move(queue_.front());
    queue_.pop_front();
    returned_token_ = batch.resume_token();
    return std::optional<v1::Batch>(std::move(batch));
  }
  if (final_status_->ok()) return std::optional<v1::Batch>();
  return *final_status_;
}

void BatchStream::ReadLoop() {
  std::shared_ptr<grpc::Channel> channel = CreateClientChannel(options_);
  int failures = 0;        // Retryable failures in a row without a batch received.
  size_t target_turn = 0;  // 0: options_.target; i > 0: failover_targets[i - 1].
  absl::Status result;
  while (true) {
    std::unique_ptr<v1::DataLoader::Stub> stub = v1::DataLoader::NewStub(channel);
    bool received_any = false;
    grpc::Status status = ReadOnce(*stub, received_any);
    if (received_any) failures = 0;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return;  // Next() reports Cancelled; nobody reads final_status_.
    }
    if (status.ok()) break;
    // UNAVAILABLE is what gRPC reports for a server that drains, restarts or cannot be
    // reached and for a connection that breaks: the contract says to resume from the token.
    // Everything else (including ABORTED, whose cause may not be transient) goes to the
    // caller, who knows whether repeating the work makes sense.
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || failures >= options_.max_retries) {
      result = FromGrpcStatus(status);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE && options_.max_retries > 0) {
        result = absl::UnavailableError(absl::StrCat(status.error_message(), " (gave up after ",
                                                     failures, " reconnect attempts)"));
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

grpc::Status BatchStream::ReadOnce(v1::DataLoader::Stub& stub, bool& received_any) {
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
  std::unique_ptr<grpc::ClientReader<v1::Batch>> reader = stub.StreamBatches(&context, request);
  grpc::Status broken;
  v1::Batch batch;
  while (reader->Read(&batch)) {
    if (expected_sequence_.has_value() && batch.sequence() != *expected_sequence_) {
      // The server broke the resume contract; handing this batch on would silently skip or
      // repeat data.
      broken = grpc::Status(grpc::StatusCode::INTERNAL,
                            absl::StrCat("expected the batch of sequence ", *expected_sequence_,
                                         " after resuming, got sequence ", batch.sequence()));
      context.TryCancel();
      break;
    }
    received_any = true;
    expected_sequence_ = batch.sequence() + 1;
    last_token_ = batch.resume_token();
    ++received_;
    absl::MutexLock lock(&mu_);
    // The bound of the prefetch buffer: while it is full this thread stops reading, gRPC's
    // flow control stops the server.
    mu_.Await(absl::Condition(
        +[](BatchStream* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
          return self->cancelled_ ||
                 self->queue_.size() < static_cast<size_t>(self->options_.prefetch);
        },
        this));
    if (cancelled_) break;  // Cancel() has cancelled the call already.
    queue_.push_back(std::move(batch));
    batch = v1::Batch();
  }
  grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
  return broken.ok() ? status : broken;
}

bool BatchStream::Backoff(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  return !mu_.AwaitWithTimeout(absl::Condition(&cancelled_), delay);
}

}  // namespace dataloader::client
