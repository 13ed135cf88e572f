// Copyright 2026 The dataloader Authors.
#include "core/event_loop.h"

#include <atomic>
#include <latch>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/core/test_util.h"

namespace dataloader {
namespace {

TEST(EventLoopTest, RunsPostsInOrderOnItsThread) {
  EventLoop loop;
  std::string order;
  std::latch done(1);
  bool on_loop = true;
  for (char c : std::string("abc")) {
    loop.Post([&, c] {
      on_loop &= loop.IsInLoopThread();
      order.push_back(c);
    });
  }
  loop.Post([&] { done.count_down(); });
  done.wait();
  EXPECT_EQ(order, "abc");
  EXPECT_TRUE(on_loop);
  EXPECT_FALSE(loop.IsInLoopThread());
}

TEST(EventLoopTest, TimersFireByDueTimeNotSubmission) {
  EventLoop loop;
  std::string order;
  std::latch done(3);
  const absl::Time start = absl::Now();
  absl::Time fired_late;
  loop.RunAfter(absl::Milliseconds(30), [&] {
    order.push_back('c');
    fired_late = absl::Now();
    done.count_down();
  });
  loop.RunAfter(absl::Milliseconds(10), [&] {
    order.push_back('b');
    done.count_down();
  });
  loop.Post([&] {
    order.push_back('a');
    done.count_down();
  });
  done.wait();
  EXPECT_EQ(order, "abc");
  EXPECT_GE(fired_late - start, absl::Milliseconds(30));
}

TEST(EventLoopTest, CancelledTimerNeverRuns) {
  EventLoop loop;
  bool ran = false;
  EventLoop::TimerId id = loop.RunAfter(absl::Milliseconds(5), [&] { ran = true; });
  EXPECT_TRUE(loop.CancelTimer(id));
  EXPECT_FALSE(loop.CancelTimer(id));
  std::latch done(1);
  loop.RunAfter(absl::Milliseconds(20), [&] { done.count_down(); });
  done.wait();
  EXPECT_FALSE(ran);
}

TEST(EventLoopTest, DestroyingTheLoopDropsPendingCallbacksWithoutRunningThem) {
  bool ran = false;
  auto guard = std::make_shared<int>(0);
  {
    EventLoop loop;
    loop.RunAfter(absl::Hours(1), [&ran, guard] { ran = true; });
  }
  EXPECT_FALSE(ran);
  EXPECT_EQ(guard.use_count(), 1);  // The dropped callback released what it held.
}

// Regression (issue 10, defect 12): the owner of a loop destroyed from one of its callbacks
// (a pipeline that owns its runtime, destroyed from its ready callback) made ~EventLoop join
// its own thread and abort.
TEST(EventLoopTest, DestroyedFromItsOwnCallbackDropsTheRest) {
  auto loop = std::make_unique<EventLoop>();
  std::latch done(1);
  std::atomic<bool> later_ran{false};
  auto guard = std::make_shared<int>(0);
  loop->Post([&] {
    loop->Post([&later_ran, guard] { later_ran = true; });
    loop.reset();
    done.count_down();
  });
  done.wait();
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(later_ran.load());
  EXPECT_EQ(guard.use_count(), 1);
}

}  // namespace
}  // namespace dataloader
