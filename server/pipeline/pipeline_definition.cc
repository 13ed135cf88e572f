// Copyright 2026 The dataloader Authors.

#include "server/pipeline/pipeline_definition.h"

#include "server/pipeline/fingerprint.h"

namespace dataloader::server {

uint64_t ContentFingerprint(const PipelineDefinition& definition) {
  Fingerprint hash;
  hash.Add(definition.dataset == nullptr ? uint64_t{0} : definition.dataset->ContentFingerprint());
  hash.Add(static_cast<uint64_t>(definition.stages.size()));
  for (const StageDefinition& stage : definition.stages) {
    hash.Add(absl::string_view(stage.op));
    hash.Add(static_cast<uint64_t>(stage.args.size()));
    for (const auto& [key, value] : stage.args) {  // std::map: in key order.
      hash.Add(absl::string_view(key)).Add(absl::string_view(value));
    }
  }
  hash.Add(definition.batch_size).Add(definition.drop_last).Add(definition.shuffle);
  return hash.value();
}

}  // namespace dataloader::server
