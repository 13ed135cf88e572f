// Copyright 2026 The dataloader Authors.
//
// A small end-to-end pipeline: the main job until the server exists. Generates synthetic
// "images", decodes them with CPU work on the pool, waits on an asynchronous "fetch" that
// holds no thread, batches them, and prints progress, stats and throughput.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <ranges>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "core/pipeline_builder.h"
#include "core/runtime.h"

ABSL_FLAG(int, samples, 20000, "Samples to generate");
ABSL_FLAG(int, threads, 0, "Pool threads (0 = one per core)");
ABSL_FLAG(int, batch_size, 32, "Samples per batch");

namespace {

using dataloader::Completion;
using dataloader::OutputOrder;
using dataloader::PipelineBuilder;
using dataloader::PipelineStats;
using dataloader::TaskContext;

struct Sample {
  int64_t index = 0;
  std::vector<uint8_t> pixels;
  int64_t checksum = 0;
};

// ~50 µs of CPU per sample: fills and sums a 16 KiB "image".
Sample Decode(int64_t index) {
  Sample sample{.index = index, .pixels = std::vector<uint8_t>(16 * 1024)};
  uint32_t state = static_cast<uint32_t>(index) * 2654435761u + 1;
  for (uint8_t& pixel : sample.pixels) {
    state = state * 1664525u + 1013904223u;
    pixel = static_cast<uint8_t>(state >> 24);
  }
  sample.checksum = std::accumulate(sample.pixels.begin(), sample.pixels.end(), int64_t{0});
  return sample;
}

void PrintStats(const PipelineStats& stats) {
  for (const auto& stage : stats.stages) {
    std::printf("  %-14s tasks %7" PRId64 " ok %7" PRId64 " failed %3" PRId64 "  out %7" PRId64
                "  p50 %8s p99 %8s  queue %" PRId64 "/%" PRId64 "\n",
                stage.name.c_str(), stage.tasks_started, stage.tasks_succeeded, stage.tasks_failed,
                stage.items_out, absl::FormatDuration(stage.p50_task_time).c_str(),
                absl::FormatDuration(stage.p99_task_time).c_str(), stage.queue_size,
                stage.queue_capacity);
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  dataloader::DisableMutexDeadlockDetection();
  const int samples = absl::GetFlag(FLAGS_samples);

  auto pipeline =
      PipelineBuilder<>()
          .AddSource(std::views::iota(int64_t{0}, int64_t{samples}))
          .Pipe(Decode, {.concurrency = 4, .name = "decode", .output_order = OutputOrder::kInput})
          .PipeAsync(
              [](Sample sample, Completion<Sample> done, const TaskContext& context) {
                // Stands for a non-blocking fetch of a label: 1 ms on a timer, no thread held.
                context.loop().RunAfter(absl::Milliseconds(1), [sample = std::move(sample),
                                                                done = std::move(done)]() mutable {
                  done(std::move(sample));
                });
              },
              {.concurrency = 64, .name = "fetch_label", .output_order = OutputOrder::kInput})
          .Aggregate(absl::GetFlag(FLAGS_batch_size))
          .AddSink(4)
          .Build({.num_threads = absl::GetFlag(FLAGS_threads),
                  .stats_callback =
                      [](const PipelineStats& stats) {
                        std::fprintf(stderr, "\r  progress: %" PRId64 " batches",
                                     stats.items_emitted);
                      },
                  .stats_interval = absl::Milliseconds(250)});
  if (!pipeline.ok()) {
    std::fprintf(stderr, "build failed: %s\n", pipeline.status().ToString().c_str());
    return 1;
  }

  std::printf("pipeline_demo: %d samples, batches of %d\n", samples,
              absl::GetFlag(FLAGS_batch_size));
  std::fflush(stdout);  // The progress line goes to stderr; keep the order on a pipe too.
  const absl::Time start = absl::Now();
  int64_t batches = 0;
  int64_t seen = 0;
  int64_t expected_next = 0;
  bool in_order = true;
  for (std::vector<Sample>& batch : **pipeline) {
    ++batches;
    for (const Sample& sample : batch) {
      in_order &= sample.index == expected_next++;
      ++seen;
    }
  }
  const absl::Duration elapsed = absl::Now() - start;
  std::fprintf(stderr, "\n");
  const absl::Status status = (*pipeline)->status();
  std::printf("status: %s\n", status.ok() ? "OK" : status.ToString().c_str());
  std::printf("batches: %" PRId64 ", samples: %" PRId64 ", input order kept: %s\n", batches, seen,
              in_order ? "yes" : "no");
  std::printf("elapsed: %s, throughput: %.0f samples/s\n", absl::FormatDuration(elapsed).c_str(),
              seen / absl::ToDoubleSeconds(elapsed));
  PrintStats((*pipeline)->Stats());
  return status.ok() && seen == samples ? 0 : 1;
}
