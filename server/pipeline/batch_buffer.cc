// Copyright 2026 The dataloader Authors.

#include "server/pipeline/batch_buffer.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace dataloader::server {

struct BatchBuffer::Shared {
  struct Free {
    std::unique_ptr<uint8_t[]> bytes;
    size_t capacity;
  };

  explicit Shared(const BatchBufferPoolOptions& options) : options(options) {}

  // Keeps `bytes` for reuse, evicting the oldest free buffers to stay within the bound (a
  // size no longer asked for must not hold the pool forever). Returns what is to be freed,
  // which the caller does outside the lock.
  std::vector<Free> Give(std::unique_ptr<uint8_t[]> bytes, size_t capacity) {
    std::vector<Free> evicted;
    MutexLock lock(&mu);
    if (capacity > options.max_free_bytes || options.max_free_buffers < 1) {
      evicted.push_back({std::move(bytes), capacity});
      return evicted;
    }
    while (static_cast<int>(free.size()) >= options.max_free_buffers ||
           free_bytes + capacity > options.max_free_bytes) {
      free_bytes -= free.front().capacity;
      evicted.push_back(std::move(free.front()));
      free.erase(free.begin());
    }
    free.push_back({std::move(bytes), capacity});
    free_bytes += capacity;
    return evicted;
  }

  const BatchBufferPoolOptions options;
  mutable Mutex mu;
  std::vector<Free> free ABSL_GUARDED_BY(mu);
  size_t free_bytes ABSL_GUARDED_BY(mu) = 0;
  int64_t taken ABSL_GUARDED_BY(mu) = 0;
  int64_t reused ABSL_GUARDED_BY(mu) = 0;
};

BatchBuffer::BatchBuffer(BatchBuffer&& other) noexcept
    : pool_(std::move(other.pool_)),
      bytes_(std::move(other.bytes_)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

BatchBuffer& BatchBuffer::operator=(BatchBuffer&& other) noexcept {
  if (this != &other) {
    BatchBuffer old(std::move(*this));
    pool_ = std::move(other.pool_);
    bytes_ = std::move(other.bytes_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

BatchBuffer::~BatchBuffer() {
  if (pool_ != nullptr && bytes_ != nullptr) {
    std::vector<Shared::Free> freed = pool_->Give(std::move(bytes_), capacity_);
  }
}

BatchBuffer BatchBuffer::CopyOf(absl::string_view bytes) {
  BatchBuffer buffer;
  // Default-initialized: no zero-fill before the copy.
  buffer.bytes_.reset(new uint8_t[std::max<size_t>(1, bytes.size())]);
  buffer.size_ = buffer.capacity_ = bytes.size();
  if (!bytes.empty()) std::memcpy(buffer.bytes_.get(), bytes.data(), bytes.size());
  return buffer;
}

BatchBufferPool::BatchBufferPool(const BatchBufferPoolOptions& options)
    : shared_(std::make_shared<BatchBuffer::Shared>(options)) {}

BatchBufferPool& BatchBufferPool::Default() {
  static BatchBufferPool* const pool = new BatchBufferPool();
  return *pool;
}

BatchBuffer BatchBufferPool::Take(size_t size) {
  BatchBuffer buffer;
  buffer.size_ = size;
  if (size < shared_->options.min_pooled_bytes) {
    buffer.bytes_.reset(new uint8_t[std::max<size_t>(1, size)]);  // Default-initialized.
    buffer.capacity_ = size;
    return buffer;
  }
  buffer.pool_ = shared_;
  {
    BatchBuffer::Shared& pool = *shared_;
    MutexLock lock(&pool.mu);
    ++pool.taken;
    // The smallest free buffer that fits without wasting more than a quarter.
    auto best = pool.free.end();
    for (auto it = pool.free.begin(); it != pool.free.end(); ++it) {
      if (it->capacity >= size && it->capacity <= size + size / 4 &&
          (best == pool.free.end() || it->capacity < best->capacity)) {
        best = it;
      }
    }
    if (best != pool.free.end()) {
      ++pool.reused;
      buffer.bytes_ = std::move(best->bytes);
      buffer.capacity_ = best->capacity;
      pool.free_bytes -= best->capacity;
      pool.free.erase(best);
      return buffer;
    }
  }
  buffer.bytes_.reset(new uint8_t[size]);  // Default-initialized: no zero-fill.
  buffer.capacity_ = size;
  return buffer;
}

BatchBufferPool::Stats BatchBufferPool::stats() const {
  MutexLock lock(&shared_->mu);
  return Stats{.taken = shared_->taken,
               .reused = shared_->reused,
               .free_buffers = static_cast<int64_t>(shared_->free.size()),
               .free_bytes = static_cast<int64_t>(shared_->free_bytes)};
}

}  // namespace dataloader::server
