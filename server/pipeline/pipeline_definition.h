// Copyright 2026 The dataloader Authors.
//
// PipelineDefinition: a named pipeline as a server config describes it (a dataset, the stages
// applied to each sample, how samples are batched), shared by every stream of the pipeline.
// Made by the config loading (server/service/server_config.h) or directly by code that embeds
// the pipeline logic (tests, benchmarks).
#ifndef SERVER_PIPELINE_PIPELINE_DEFINITION_H_
#define SERVER_PIPELINE_PIPELINE_DEFINITION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/pipeline_options.h"
#include "server/pipeline/dataset.h"
#include "server/pipeline/sample.h"

namespace dataloader::server {

struct StageDefinition {
  std::string name{};  // Stats and errors; default: the op's name.
  std::string op{};    // In the server's OpRegistry.
  std::map<std::string, std::string> args{};
  // Tasks at once per stream; 0 = automatic (see StageOptions::concurrency).
  int concurrency = kAutomatic;
  // Completion order (the default) is fastest; the stream's bytes are the same either way.
  OutputOrder output_order = OutputOrder::kCompletion;
  int64_t max_failures = kUnlimitedFailures;
};

// A tensor every sample of a pipeline must carry for its batches to stack.
struct SampleTensorSpec {
  std::string name{};
  DType dtype = DType::kUint8;
  std::vector<int64_t> shape{};  // One sample's, without the batch dimension.
};

struct PipelineDefinition {
  std::string name{};
  std::string description{};
  std::shared_ptr<const Dataset> dataset{};  // Required; shared by all streams.
  std::vector<StageDefinition> stages{};
  int64_t batch_size = 32;
  bool drop_last = false;
  bool shuffle = true;
  int load_concurrency = kAutomatic;  // Samples loaded at once; 0 = automatic.
  int sink_buffer = 4;                // Finished batches buffered per stream.
  int64_t max_failures = kUnlimitedFailures;
  // Identifies what the streams' bytes depend on (ContentFingerprint below); resume tokens
  // issued for another value are refused.
  uint64_t config_fingerprint = 0;
  // The tensors of a batch's samples, as batched (after a normalize fused into collate), in
  // order. Non-empty: a sample that does not match fails on its own, before its batch is
  // assembled (stage "stack", counted against the failure budgets like any failed sample), and
  // its batch goes out without it. The service sets it from the start-up probe's sample
  // (server/service/pipeline_info.h). Empty: not checked; a sample that does not stack then
  // fails its whole batch in collate.
  std::vector<SampleTensorSpec> sample_tensors{};
};

// A hash of exactly what determines a stream's bytes for a given request: the dataset's
// content, the ops with their arguments in order, batch_size, drop_last and shuffle. Not
// what only tunes speed or reporting (concurrency, output order, load_concurrency,
// sink_buffer, failure budgets, names, description) nor where the data is mounted: retuning
// a server or moving its data keeps every trainer's resume tokens valid.
uint64_t ContentFingerprint(const PipelineDefinition& definition);

}  // namespace dataloader::server

#endif  // SERVER_PIPELINE_PIPELINE_DEFINITION_H_
