// Copyright 2026 The dataloader Authors.
#include "core/thread_pool.h"

#include <atomic>
#include <latch>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/core/test_util.h"

namespace dataloader {
namespace {

using ::dataloader::testing::Event;

TEST(ThreadPoolTest, RunsEveryTaskOnItsThreads) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.num_threads(), 3);
  auto queue = pool.CreateQueue();
  std::latch done(100);
  std::atomic<int> sum{0};
  for (int i = 0; i < 100; ++i) {
    queue->Submit([&, i] {
      sum += i;
      done.count_down();
    });
  }
  done.wait();
  EXPECT_EQ(sum.load(), 4950);
}

TEST(ThreadPoolTest, ServesQueuesRoundRobin) {
  ThreadPool pool(1);
  auto busy = pool.CreateQueue();
  auto light = pool.CreateQueue();
  Event release;
  std::latch blocked(1);
  // Occupy the only thread while both queues fill, so the order is decided by the pool alone.
  busy->Submit([&] {
    blocked.count_down();
    release.Wait();
  });
  blocked.wait();
  Mutex mu;
  std::string order;
  std::latch done(8);
  auto task = [&](char c) {
    return [&, c] {
      {
        MutexLock lock(&mu);
        order.push_back(c);
      }
      done.count_down();
    };
  };
  for (int i = 0; i < 6; ++i) busy->Submit(task('a'));
  for (int i = 0; i < 2; ++i) light->Submit(task('b'));
  EXPECT_TRUE(pool.AnyWaiting());
  release.Notify();
  done.wait();
  MutexLock lock(&mu);
  EXPECT_EQ(order, "ababaaaa");
}

TEST(ThreadPoolTest, TakeQueuedReturnsTasksNotStarted) {
  ThreadPool pool(1);
  auto queue = pool.CreateQueue();
  Event release;
  std::latch blocked(1);
  queue->Submit([&] {
    blocked.count_down();
    release.Wait();
  });
  blocked.wait();
  std::atomic<int> ran{0};
  for (int i = 0; i < 5; ++i) queue->Submit([&] { ++ran; });
  EXPECT_EQ(queue->TakeQueued().size(), 5u);
  release.Notify();
  queue.reset();  // Waits for nothing: its queued tasks are gone.
  EXPECT_EQ(ran.load(), 0);
}

// Regression (issue 10, defect 12): the owner of a pool destroyed from one of its tasks made
// ~ThreadPool join its own thread and abort. Now it joins the others, and that thread ends
// when the task returns. Its queue may outlive it: nothing submitted runs.
TEST(ThreadPoolTest, DestroyedFromItsOwnTask) {
  auto pool = std::make_unique<ThreadPool>(3);
  std::unique_ptr<ThreadPool::TaskQueue> queue = pool->CreateQueue();
  std::latch done(1);
  queue->Submit([&] {
    pool.reset();
    done.count_down();
  });
  done.wait();
  std::atomic<int> ran{0};
  queue->Submit([&] { ++ran; });
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(ran.load(), 0);
  EXPECT_TRUE(queue->TakeQueued().empty());
}

}  // namespace
}  // namespace dataloader
