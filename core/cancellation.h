// Copyright 2026 The dataloader Authors.
//
// Cooperative cancellation for long stage functions.
//
//   CancellationSource source;
//   CancellationToken token = source.token();
//   while (!token.IsCancelled()) DoOneChunkOfWork();
//   ...
//   source.Cancel();  // from any thread
//
// Thread-safe. Tokens are cheap to copy; every copy observes the same source.
#ifndef CORE_CANCELLATION_H_
#define CORE_CANCELLATION_H_

#include <atomic>
#include <memory>

namespace dataloader {

class CancellationToken {
 public:
  // A token that is never cancelled.
  CancellationToken() = default;

  bool IsCancelled() const { return flag_ != nullptr && flag_->load(std::memory_order_acquire); }

 private:
  friend class CancellationSource;
  explicit CancellationToken(std::shared_ptr<const std::atomic<bool>> flag)
      : flag_(std::move(flag)) {}

  std::shared_ptr<const std::atomic<bool>> flag_;
};

class CancellationSource {
 public:
  CancellationSource() : flag_(std::make_shared<std::atomic<bool>>(false)) {}

  // Idempotent; visible to every token of this source.
  void Cancel() { flag_->store(true, std::memory_order_release); }
  bool IsCancelled() const { return flag_->load(std::memory_order_acquire); }
  CancellationToken token() const { return CancellationToken(flag_); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

}  // namespace dataloader

#endif  // CORE_CANCELLATION_H_
