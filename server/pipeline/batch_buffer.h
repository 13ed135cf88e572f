// Copyright 2026 The dataloader Authors.
//
// BatchBuffer: the bytes of one batch tensor. BatchBufferPool: where large ones come from and go
// back to, so that a stream does not malloc and free several MiB per batch (glibc gives large
// blocks back to the kernel, and the next batch page-faults its memory in again).
//
//   BatchBuffer buffer = BatchBufferPool::Default().Take(n * sample_bytes);  // uninitialized
//   std::memcpy(buffer.data() + i * sample_bytes, ...);
//   ...                                  // sent by gRPC, which destroys it when done
//   // ~BatchBuffer: back to the pool (up to its bound), else freed.
//
// The memory is uninitialized: collate writes every byte, so nothing is zero-filled first.
// Bound: the pool keeps at most `max_free_buffers` free buffers and `max_free_bytes` bytes,
// the oldest freed first to make room. Buffers in use are not counted (they belong to
// batches).
//
// BatchBuffer is thread-compatible, movable and copyable (a copy comes from no pool);
// BatchBufferPool is thread-safe, and a buffer may outlive the pool it came from (it is then
// freed).
#ifndef SERVER_PIPELINE_BATCH_BUFFER_H_
#define SERVER_PIPELINE_BATCH_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "core/mutex.h"

namespace dataloader::server {

class BatchBufferPool;

class BatchBuffer {
 public:
  BatchBuffer() = default;
  // A copy is a new buffer from no pool (copying a batch is for tests and probes).
  BatchBuffer(const BatchBuffer& other) : BatchBuffer(CopyOf(other.view())) {}
  BatchBuffer& operator=(const BatchBuffer& other) {
    if (this != &other) *this = CopyOf(other.view());
    return *this;
  }
  BatchBuffer(BatchBuffer&& other) noexcept;
  BatchBuffer& operator=(BatchBuffer&& other) noexcept;
  ~BatchBuffer();

  // A buffer holding a copy of `bytes`, from no pool (tests, small tensors).
  static BatchBuffer CopyOf(absl::string_view bytes);

  uint8_t* data() { return bytes_.get(); }
  const uint8_t* data() const { return bytes_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  absl::string_view view() const {
    return absl::string_view(reinterpret_cast<const char*>(bytes_.get()), size_);
  }
  // Compares the bytes.
  bool operator==(const BatchBuffer& other) const { return view() == other.view(); }

 private:
  friend class BatchBufferPool;
  struct Shared;

  std::shared_ptr<Shared> pool_;  // Null if it came from no pool.
  std::unique_ptr<uint8_t[]> bytes_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

struct BatchBufferPoolOptions {
  // Smaller buffers are plain allocations (a label tensor is a few hundred bytes); malloc
  // keeps those itself. Default 64 KiB.
  size_t min_pooled_bytes = size_t{64} << 10;
  // Free buffers kept for reuse, at most; the oldest are freed first. Default 8.
  int max_free_buffers = 8;
  // Bytes of free buffers kept, at most. Default 128 MiB.
  size_t max_free_bytes = size_t{128} << 20;
};

class BatchBufferPool {
 public:
  explicit BatchBufferPool(const BatchBufferPoolOptions& options = {});
  BatchBufferPool(const BatchBufferPool&) = delete;
  BatchBufferPool& operator=(const BatchBufferPool&) = delete;

  // The process's pool, with the default options: what collate uses.
  static BatchBufferPool& Default();

  // A buffer of `size` bytes, uninitialized: a free one of at least `size` and at most 25%
  // more, or a new one.
  BatchBuffer Take(size_t size);

  struct Stats {
    int64_t taken = 0;   // Pooled-size buffers handed out.
    int64_t reused = 0;  // ... of which came from the free list.
    int64_t free_buffers = 0;
    int64_t free_bytes = 0;
  };
  Stats stats() const;

 private:
  std::shared_ptr<BatchBuffer::Shared> shared_;
};

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_BATCH_BUFFER_H_
