// Copyright 2026 The dataloader Authors.
//
// image_decode_rate: the decode-bound limit of an image pipeline. Runs every per-sample stage
// of a configured pipeline (e.g. read_file, decode_random_resized_crop, normalize) on one
// thread, with no pipeline engine, batching or gRPC around it, over the whole dataset, and
// prints the rate. tests/benchmarks/image_pipeline.sh multiplies it by the cores to get the
// most any loader could deliver on this machine, and compares the service against it.
//
//   image_decode_rate --config=FILE --pipeline=NAME [--passes=2]
//
// The first pass also warms the page cache (it is not timed); the rate is over the others.
// Failed samples (bad files) count as done, as they do in the pipeline.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "core/cancellation.h"
#include "core/event_loop.h"
#include "core/stage_function.h"
#include "server/ops/op_registry.h"
#include "server/pipeline/epoch_plan.h"
#include "server/service/server_config.h"
#include "tests/server/ops/test_ops.h"

ABSL_FLAG(std::string, config, "", "Text-format dataloader.v1.ServerConfig file.");
ABSL_FLAG(std::string, pipeline, "", "The pipeline whose stages to run.");
ABSL_FLAG(int, passes, 2, "Passes over the dataset; the first is untimed warm-up.");

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "image_decode_rate: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Single-thread rate of a pipeline's per-sample stages.");
  absl::ParseCommandLine(argc, argv);
  using namespace dataloader;          // NOLINT: a small tool.
  using namespace dataloader::server;  // NOLINT
  absl::StatusOr<v1::ServerConfig> config = ReadServerConfig(absl::GetFlag(FLAGS_config));
  if (!config.ok()) return Fail(std::string(config.status().message()));
  absl::StatusOr<std::vector<PipelineDefinition>> definitions =
      ToDefinitions(*config, dataloader::testing::BuiltinOps());
  if (!definitions.ok()) return Fail(std::string(definitions.status().message()));
  const PipelineDefinition* definition = nullptr;
  for (const PipelineDefinition& each : *definitions) {
    if (each.name == absl::GetFlag(FLAGS_pipeline)) definition = &each;
  }
  if (definition == nullptr)
    return Fail("no pipeline named '" + absl::GetFlag(FLAGS_pipeline) + "'");
  if (absl::GetFlag(FLAGS_passes) < 2) return Fail("--passes must be >= 2");

  std::vector<std::unique_ptr<Op>> ops;
  for (const StageDefinition& stage : definition->stages) {
    absl::StatusOr<std::unique_ptr<Op>> op =
        dataloader::testing::BuiltinOps().Create(stage.op, stage.args, definition->dataset->root());
    if (!op.ok()) return Fail(std::string(op.status().message()));
    if ((*op)->IsAsync()) return Fail("stage '" + stage.op + "' is asynchronous; not supported");
    ops.push_back(*std::move(op));
  }
  CancellationToken token;
  EventLoop loop;
  const std::string stage_name = "decode_rate";
  const TaskContext context(token, loop, stage_name);

  const int64_t n = definition->dataset->size();
  int64_t failed = 0, done = 0;
  absl::Time start;
  for (int pass = 0; pass < absl::GetFlag(FLAGS_passes); ++pass) {
    if (pass == 1) start = absl::Now();
    for (int64_t i = 0; i < n; ++i) {
      absl::StatusOr<Sample> sample =
          definition->dataset->Load(i, SampleSeed(/*seed=*/0, static_cast<uint64_t>(pass), i));
      for (const auto& op : ops) {
        if (!sample.ok()) break;
        sample = op->Run(*std::move(sample), context);
      }
      if (pass > 0) {
        ++done;
        if (!sample.ok()) ++failed;
      }
    }
    std::fprintf(stderr, "image_decode_rate: pass %d/%d done\n", pass + 1,
                 absl::GetFlag(FLAGS_passes));
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("%lld samples (%lld failed) in %.2f s on one thread\n", static_cast<long long>(done),
              static_cast<long long>(failed), seconds);
  std::printf("single_thread_images_per_s=%.1f\n", done / seconds);
  return 0;
}
