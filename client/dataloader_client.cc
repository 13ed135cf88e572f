// Copyright 2026 The dataloader Authors.
//
// dataloader_client: reads batches from a dataloader_server and reports throughput; --list
// describes the server's pipelines, --verify checks every batch against them. See --help.
//
// Output: the summary (one line, or one JSON object with --json) on stdout; errors, and a
// live progress line when stderr is a terminal, on stderr. Exit code 0 on success, 1 if the
// stream or a call failed (the gRPC status is printed), 2 on bad flags, 3 if --verify found a
// mismatch.
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/command_line.h"
#include "client/batch_stream.h"
#include "client/list_pipelines.h"
#include "client/replica_stream.h"
#include "client/security_flags.h"
#include "client/tensor_view.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "The server, HOST:PORT.");
ABSL_FLAG(std::string, replicas, "",
          "Scale-out: stream this rank's shard from several replicas at once, each serving a "
          "disjoint part, merged in a deterministic order (HOST:PORT,HOST:PORT,... or "
          "dns:NAME:PORT for every address of a headless Service). Overrides --target; every "
          "rank must see the same replicas.");
ABSL_FLAG(int, streams_per_replica, 1,
          "Sub-streams per replica (or per --target), each on its own connection, merged in a "
          "deterministic order: for a trainer that needs more than one HTTP/2 connection "
          "carries. Every rank must use the same value.");
ABSL_FLAG(std::string, pipeline, "synthetic", "The pipeline to stream.");
ABSL_FLAG(uint32_t, shard_index, 0, "This reader's shard, 0 <= shard_index < shard_count.");
ABSL_FLAG(uint32_t, shard_count, 1, "Shards the epoch is split into (0 reads as 1).");
ABSL_FLAG(uint64_t, epoch, 0, "The epoch to stream.");
ABSL_FLAG(uint64_t, seed, 0, "The seed of the epoch's order and augmentations.");
ABSL_FLAG(uint64_t, max_batches, 0,
          "Stop after this many batches (of the merged stream with --replicas); 0: the whole "
          "shard.");
ABSL_FLAG(int, prefetch, 4, "Batches buffered ahead of the consumer.");
ABSL_FLAG(int, max_retries, 5, "Reconnect attempts in a row on UNAVAILABLE before giving up.");
ABSL_FLAG(bool, list, false,
          "Print the server's pipelines (tensors, sizes, policies) and exit; no streaming.");
ABSL_FLAG(bool, json, false,
          "Print the summary as one JSON object on stdout (batches, samples, bytes, seconds, "
          "samples_per_second, mb_per_second, reconnects, status) instead of a line.");
ABSL_FLAG(bool, verify, false,
          "Check that sequences run 0..n-1, that every batch has samples and that every "
          "tensor matches the pipeline's TensorSpec (name, dtype, shape; fewer rows allowed) "
          "and its data size; exit 3 on a mismatch.");

namespace {

using ::dataloader::client::DTypeName;
using ::dataloader::client::ShapeString;
namespace v1 = ::dataloader::v1;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitMismatch = 3;

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "dataloader_client: %s\n", message.c_str());
  return code;
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

int List(const dataloader::client::ClientOptions& options) {
  const std::string& target = options.target;
  auto pipelines = dataloader::client::ListPipelines(options);
  if (!pipelines.ok()) {
    return Fail(
        absl::StrCat("ListPipelines on ", target, " failed: ", pipelines.status().ToString()),
        kExitFailure);
  }
  for (const v1::PipelineInfo& info : *pipelines) {
    std::printf("%s\n", info.name().c_str());
    if (!info.description().empty()) std::printf("  description: %s\n", info.description().c_str());
    std::printf("  samples_per_epoch: %" PRIu64 "  batch_size: %" PRIu64
                "  drop_last: %s  shuffle: %s  exact_order: %s  max_batch_bytes: %" PRIu64 "\n",
                info.samples_per_epoch(), info.batch_size(), info.drop_last() ? "true" : "false",
                info.shuffle() ? "true" : "false", info.exact_order() ? "true" : "false",
                info.max_batch_bytes());
    for (const v1::TensorSpec& spec : info.tensors()) {
      std::printf("  tensor %s: %s %s\n", spec.name().c_str(), DTypeName(spec.dtype()).c_str(),
                  ShapeString(spec.shape()).c_str());
    }
  }
  return 0;
}

// Empty if `batch` (the stream's `index`-th) fits `info`; what differs otherwise.
// With S sub-streams the merged stream holds batch index / S of sub-stream index % S.
std::string Mismatch(const v1::Batch& batch, uint64_t index, uint64_t replicas,
                     const v1::PipelineInfo& info) {
  const std::string where = absl::StrCat("batch ", index, ": ");
  if (batch.sequence() != index / replicas) {
    return absl::StrCat(where, "sequence ", batch.sequence(), ", expected ", index / replicas);
  }
  if (batch.sample_ids_size() == 0) {
    // Every sample of the batch failed: the stream is well-formed, but a pipeline that loses
    // whole batches is not what --verify should call OK.
    return absl::StrCat(where, "empty: every sample of the batch failed on the server");
  }
  if (batch.tensors_size() != info.tensors_size()) {
    return absl::StrCat(where, batch.tensors_size(), " tensors, the pipeline lists ",
                        info.tensors_size());
  }
  for (int i = 0; i < batch.tensors_size(); ++i) {
    const v1::Tensor& tensor = batch.tensors(i);
    const v1::TensorSpec& spec = info.tensors(i);
    const std::string got =
        absl::StrCat("tensor '", tensor.name(), "' (", DTypeName(tensor.dtype()), " ",
                     ShapeString(tensor.shape()), ")");
    const std::string want = absl::StrCat("spec '", spec.name(), "' (", DTypeName(spec.dtype()),
                                          " ", ShapeString(spec.shape()), ")");
    if (tensor.name() != spec.name() || tensor.dtype() != spec.dtype() ||
        tensor.shape_size() != spec.shape_size() || tensor.shape_size() == 0) {
      return absl::StrCat(where, got, " does not match ", want);
    }
    if (tensor.shape(0) != batch.sample_ids_size() || tensor.shape(0) > spec.shape(0)) {
      return absl::StrCat(where, got, " has ", tensor.shape(0), " rows for ",
                          batch.sample_ids_size(), " samples (", want, ")");
    }
    for (int d = 1; d < tensor.shape_size(); ++d) {
      if (spec.shape(d) != -1 && tensor.shape(d) != spec.shape(d)) {
        return absl::StrCat(where, got, " does not match ", want, " in dimension ", d);
      }
    }
    if (absl::Status status = dataloader::client::CheckTensor(tensor); !status.ok()) {
      return absl::StrCat(where, status.message());
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Streams batches from a dataloader_server and reports throughput.\n"
      "Usage: dataloader_client [--target=HOST:PORT] [--pipeline=NAME] [--max_batches=N] "
      "[--json] [--verify]\n       dataloader_client --list [--target=HOST:PORT]\n"
      "Security: [--tls] [--tls_ca_file=PEM] [--tls_cert_file=PEM --tls_key_file=PEM] "
      "[--tls_server_name=NAME] [--auth_token_file=FILE] [--allow_insecure]");
  std::vector<char*> rest = dataloader::cli::ParseCommandLineOrExit(argc, argv);
  if (rest.size() > 1) return Fail(absl::StrCat("unexpected argument '", rest[1], "'"), kExitUsage);
  std::vector<std::string> replicas;
  if (!absl::GetFlag(FLAGS_replicas).empty()) {
    auto resolved = dataloader::client::ResolveReplicas(absl::GetFlag(FLAGS_replicas));
    if (!resolved.ok()) return Fail(resolved.status().ToString(), kExitUsage);
    replicas = *std::move(resolved);
  }
  const int streams_per_replica = absl::GetFlag(FLAGS_streams_per_replica);
  if (streams_per_replica < 1) {
    return Fail(absl::StrCat("--streams_per_replica must be >= 1, got ", streams_per_replica),
                kExitUsage);
  }
  // Several streams to one server: the same merge over a list of one.
  if (replicas.empty() && streams_per_replica > 1) replicas = {absl::GetFlag(FLAGS_target)};
  // With replicas, --list and --verify ask the first one.
  const std::string target = replicas.empty() ? absl::GetFlag(FLAGS_target) : replicas.front();

  dataloader::client::ClientOptions options{.target = target,
                                            .max_retries = absl::GetFlag(FLAGS_max_retries),
                                            .prefetch = absl::GetFlag(FLAGS_prefetch)};
  options.security = dataloader::client::SecurityOptionsFromFlags();
  if (absl::Status valid = dataloader::client::ValidateClientOptions(options); !valid.ok()) {
    return Fail(valid.ToString(), kExitUsage);
  }
  if (absl::GetFlag(FLAGS_list)) return List(options);
  const bool verify = absl::GetFlag(FLAGS_verify);
  const bool json = absl::GetFlag(FLAGS_json);
  v1::StreamBatchesRequest request;
  request.set_pipeline(absl::GetFlag(FLAGS_pipeline));
  request.set_shard_index(absl::GetFlag(FLAGS_shard_index));
  request.set_shard_count(absl::GetFlag(FLAGS_shard_count));
  request.set_epoch(absl::GetFlag(FLAGS_epoch));
  request.set_seed(absl::GetFlag(FLAGS_seed));
  request.set_max_batches(absl::GetFlag(FLAGS_max_batches));

  std::optional<v1::PipelineInfo> info;
  if (verify) {
    auto pipelines = dataloader::client::ListPipelines(options);
    if (!pipelines.ok()) {
      return Fail(
          absl::StrCat("ListPipelines on ", target, " failed: ", pipelines.status().ToString()),
          kExitFailure);
    }
    for (const v1::PipelineInfo& candidate : *pipelines) {
      if (candidate.name() == request.pipeline()) info = candidate;
    }
    if (!info.has_value()) {
      return Fail(
          absl::StrCat("NOT_FOUND: ", target, " does not list pipeline '", request.pipeline(), "'"),
          kExitFailure);
    }
  }

  // One server (BatchStream) or several (ReplicaStream), behind the same two calls.
  std::unique_ptr<dataloader::client::BatchStream> single;
  std::unique_ptr<dataloader::client::ReplicaStream> merged;
  if (replicas.empty()) {
    auto stream = dataloader::client::BatchStream::Open(options, request);
    if (!stream.ok()) return Fail(stream.status().ToString(), kExitUsage);
    single = *std::move(stream);
  } else {
    auto stream = dataloader::client::ReplicaStream::Open(
        {.replicas = replicas, .streams_per_replica = streams_per_replica, .client = options},
        request);
    if (!stream.ok()) return Fail(stream.status().ToString(), kExitUsage);
    merged = *std::move(stream);
  }
  auto next_batch = [&] { return single ? single->Next() : merged->Next(); };
  const uint64_t streams = merged ? merged->sub_streams() : 1;

  const bool progress = isatty(STDERR_FILENO) != 0;
  const absl::Time start = absl::Now();
  absl::Time next_progress = start + absl::Milliseconds(250);
  uint64_t batches = 0, samples = 0, bytes = 0;
  absl::Status status;
  std::string mismatch;
  while (true) {
    absl::StatusOr<std::optional<v1::Batch>> next = next_batch();
    if (!next.ok()) {
      status = next.status();
      break;
    }
    if (!next->has_value()) break;
    const v1::Batch& batch = **next;
    if (verify) {
      mismatch = Mismatch(batch, batches, streams, *info);
      if (!mismatch.empty()) break;
    }
    ++batches;
    samples += batch.sample_ids_size();
    for (const v1::Tensor& tensor : batch.tensors()) bytes += tensor.data().size();
    if (progress && absl::Now() >= next_progress) {
      const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
      std::fprintf(stderr, "\r%" PRIu64 " batches  %.0f samples/s  %.1f MB/s   ", batches,
                   samples / seconds, bytes / 1e6 / seconds);
      next_progress = absl::Now() + absl::Milliseconds(250);
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (progress) std::fprintf(stderr, "\r\033[K");
  const int reconnects = single ? single->reconnects() : merged->reconnects();
  single.reset();  // Cancels a stream that a mismatch left open.
  merged.reset();

  const double samples_per_second = seconds > 0 ? samples / seconds : 0;
  const double mb_per_second = seconds > 0 ? bytes / 1e6 / seconds : 0;
  std::string outcome = status.ok() ? "OK" : status.ToString();
  if (!mismatch.empty()) outcome = absl::StrCat("VERIFY_FAILED: ", mismatch);
  if (json) {
    std::printf(
        "{\"pipeline\": %s, \"batches\": %" PRIu64 ", \"samples\": %" PRIu64 ", \"bytes\": %" PRIu64
        ", \"seconds\": %.6f, \"samples_per_second\": %.1f, \"mb_per_second\": %.3f, "
        "\"reconnects\": %d, \"verified\": %s, \"status\": %s}\n",
        JsonString(request.pipeline()).c_str(), batches, samples, bytes, seconds,
        samples_per_second, mb_per_second, reconnects,
        verify && status.ok() && mismatch.empty() ? "true" : "false", JsonString(outcome).c_str());
  } else {
    std::printf("dataloader_client: %" PRIu64 " batches, %" PRIu64
                " samples, %.1f MB in %.3f s: %.0f samples/s, %.1f MB/s, %d reconnects%s (%s)\n",
                batches, samples, bytes / 1e6, seconds, samples_per_second, mb_per_second,
                reconnects, verify && mismatch.empty() && status.ok() ? ", verified" : "",
                outcome.c_str());
  }
  std::fflush(stdout);
  if (!mismatch.empty()) return Fail(absl::StrCat("verify failed: ", mismatch), kExitMismatch);
  if (!status.ok()) return Fail(absl::StrCat("stream failed: ", status.ToString()), kExitFailure);
  return 0;
}
