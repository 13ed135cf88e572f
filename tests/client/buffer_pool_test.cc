// Copyright 2026 The dataloader Authors.
#include "client/buffer_pool.h"

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace dataloader::client {
namespace {

TEST(BufferPoolTest, AGivenBackBufferIsHandedOutAgainAligned) {
  std::shared_ptr<BufferPool> pool = BufferPool::Create(2);
  uint8_t* first = nullptr;
  {
    BufferPool::Buffer buffer = pool->Acquire(1000);
    first = buffer.get();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % BufferPool::kAlignment, 0u);
    std::memset(first, 7, 1000);
  }
  EXPECT_EQ(pool->free_buffers(), 1u);
  BufferPool::Buffer again = pool->Acquire(900);  // Within [900, 1800]: reused.
  EXPECT_EQ(again.get(), first);
  EXPECT_EQ(pool->free_buffers(), 0u);
}

TEST(BufferPoolTest, SizesFarApartAreNotReused) {
  std::shared_ptr<BufferPool> pool = BufferPool::Create(4);
  { BufferPool::Buffer big = pool->Acquire(10000); }
  BufferPool::Buffer small = pool->Acquire(100);  // A 10000-byte buffer would be pinned.
  EXPECT_EQ(pool->free_buffers(), 1u);
  BufferPool::Buffer larger = pool->Acquire(20000);  // Too small for it.
  EXPECT_EQ(pool->free_buffers(), 1u);
}

TEST(BufferPoolTest, KeepsAtMostMaxFreeAndOutlivedBuffersAreFreed) {
  std::shared_ptr<BufferPool> pool = BufferPool::Create(2);
  {
    std::vector<BufferPool::Buffer> buffers;
    for (int i = 0; i < 5; ++i) buffers.push_back(pool->Acquire(64));
  }
  EXPECT_EQ(pool->free_buffers(), 2u);
  BufferPool::Buffer outliving = pool->Acquire(64);
  pool.reset();  // The buffer is freed when it goes (ASan would see a leak or a double free).
  outliving.reset();
  BufferPool::Buffer alone = BufferPool::Allocate(10);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(alone.get()) % BufferPool::kAlignment, 0u);
}

TEST(BufferPoolTest, BuffersGoBackFromOtherThreads) {
  std::shared_ptr<BufferPool> pool = BufferPool::Create(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([pool] {
      for (int i = 0; i < 1000; ++i) {
        BufferPool::Buffer buffer = pool->Acquire(4096);
        buffer[0] = static_cast<uint8_t>(i);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(pool->free_buffers(), 8u);
  EXPECT_GE(pool->free_buffers(), 1u);
}

}  // namespace
}  // namespace dataloader::client
