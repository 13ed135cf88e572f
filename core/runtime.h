// Copyright 2026 The dataloader Authors.
//
// Runtime: the thread pool and event loop that pipelines run on.
//
// A pipeline built with `.num_threads = N` owns a private Runtime. A server that runs one
// pipeline per stream creates one Runtime and builds every pipeline with `.runtime = &runtime`:
// all of them share its threads, in fair turns (see ThreadPool).
//
//   absl::StatusOr<std::unique_ptr<Runtime>> runtime = Runtime::Create({.num_threads = 8});
//
// Thread-safe. Must outlive every pipeline built on it.
#ifndef CORE_RUNTIME_H_
#define CORE_RUNTIME_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/event_loop.h"
#include "core/thread_pool.h"

namespace dataloader {

struct RuntimeOptions {
  // Threads that run synchronous stage functions and sources: how many such calls can run at
  // once across all pipelines on this runtime. 0 means one per core; at most kMaxThreads
  // (pipeline_options.h).
  int num_threads = 0;
};

class Runtime {
 public:
  static absl::StatusOr<std::unique_ptr<Runtime>> Create(const RuntimeOptions& options);
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  ThreadPool& pool() { return pool_; }
  EventLoop& loop() { return loop_; }

 private:
  explicit Runtime(int num_threads) : pool_(num_threads) {}

  // The loop is destroyed first: its pending callbacks may still hold work for the pool.
  ThreadPool pool_;
  EventLoop loop_;
};

// Turns off absl::Mutex's deadlock detector for the whole process. Debian builds Abseil
// without NDEBUG, so by default every Lock() updates a global lock graph under a global
// spinlock: 2.4x the cost of an uncontended lock and one contention point for every mutex of
// the process. Binaries that serve data call this once at start-up; tests keep the detector.
void DisableMutexDeadlockDetection();

}  // namespace dataloader

#endif  // CORE_RUNTIME_H_
