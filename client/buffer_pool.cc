// Copyright 2026 The dataloader Authors.
#include "client/buffer_pool.h"

#include <new>

namespace dataloader::client {
namespace {

uint8_t* AllocateAligned(size_t size) {
  return static_cast<uint8_t*>(
      ::operator new[](size == 0 ? 1 : size, std::align_val_t(BufferPool::kAlignment)));
}

void FreeAligned(uint8_t* data) {
  ::operator delete[](data, std::align_val_t(BufferPool::kAlignment));
}

}  // namespace

void BufferPool::Release::operator()(uint8_t* data) const {
  if (data == nullptr) return;
  if (std::shared_ptr<BufferPool> owner = pool.lock(); owner && owner->Put(data, capacity)) {
    return;
  }
  FreeAligned(data);
}

std::shared_ptr<BufferPool> BufferPool::Create(size_t max_free) {
  return std::shared_ptr<BufferPool>(new BufferPool(max_free));
}

BufferPool::Buffer BufferPool::Allocate(size_t size) {
  return Buffer(AllocateAligned(size), Release{.pool = {}, .capacity = size});
}

BufferPool::~BufferPool() {
  absl::MutexLock lock(&mu_);
  for (const auto& [data, capacity] : free_) FreeAligned(data);
}

BufferPool::Buffer BufferPool::Acquire(size_t size) {
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < free_.size(); ++i) {
      const auto [data, capacity] = free_[i];
      // Not much larger than asked: a small request must not pin a large buffer.
      if (capacity >= size && capacity / 2 <= size) {
        free_[i] = free_.back();
        free_.pop_back();
        return Buffer(data, Release{.pool = weak_from_this(), .capacity = capacity});
      }
    }
  }
  return Buffer(AllocateAligned(size), Release{.pool = weak_from_this(), .capacity = size});
}

size_t BufferPool::free_buffers() const {
  absl::MutexLock lock(&mu_);
  return free_.size();
}

bool BufferPool::Put(uint8_t* data, size_t capacity) {
  absl::MutexLock lock(&mu_);
  if (free_.size() >= max_free_) return false;
  free_.emplace_back(data, capacity);
  return true;
}

}  // namespace dataloader::client
