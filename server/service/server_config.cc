// Copyright 2026 The dataloader Authors.

#include "server/service/server_config.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "server/pipeline/file_dataset.h"
#include "server/pipeline/synthetic_dataset.h"
#include "server/service/resume_token.h"

namespace dataloader::server {
namespace {

class CollectFirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error.empty()) error = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  std::string error;
};

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string bytes;
  google::protobuf::io::StringOutputStream output(&bytes);
  google::protobuf::io::CodedOutputStream coded(&output);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

}  // namespace

v1::ServerConfig DefaultServerConfig() {
  v1::ServerConfig config;
  google::protobuf::TextFormat::ParseFromString(
      R"pb(
        pipelines {
          name: "synthetic"
          description: "10,000 generated 128x128 RGB images with labels: brightness jitter, normalized to float32 CHW, batches of 32"
          synthetic { num_samples: 10000 height: 128 width: 128 channels: 3 num_classes: 1000 }
          stages {
            op: "random_brightness"
            args { key: "max_delta" value: "32" }
            concurrency: 2
          }
          stages {
            op: "normalize"
            args { key: "mean" value: "0.485,0.456,0.406" }
            args { key: "std" value: "0.229,0.224,0.225" }
            args { key: "layout" value: "chw" }
            concurrency: 2
          }
          batch_size: 32
          load_concurrency: 2
          sink_buffer: 4
        }
      )pb",
      &config);
  return config;
}

absl::StatusOr<v1::ServerConfig> ReadServerConfig(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read config file '", path, "'"));
  std::stringstream text;
  text << file.rdbuf();
  v1::ServerConfig config;
  google::protobuf::TextFormat::Parser parser;
  CollectFirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text.str(), &config)) {
    return absl::InvalidArgumentError(absl::StrCat("config ", path, ":", errors.error));
  }
  return config;
}

absl::StatusOr<std::vector<PipelineDefinition>> ToDefinitions(const v1::ServerConfig& config) {
  std::vector<PipelineDefinition> definitions;
  std::set<std::string> names;
  if (config.pipelines().empty()) return absl::InvalidArgumentError("config has no pipelines");
  for (const v1::PipelineConfig& pipeline : config.pipelines()) {
    auto invalid = [&](auto&&... parts) {
      return absl::InvalidArgumentError(
          absl::StrCat("pipeline '", pipeline.name(), "': ", parts...));
    };
    if (pipeline.name().empty()) return absl::InvalidArgumentError("a pipeline has no name");
    if (!names.insert(pipeline.name()).second) return invalid("name used twice");
    if (pipeline.batch_size() == 0) return invalid("batch_size must be >= 1, got 0");
    auto or_default = [](auto value, auto fallback) -> int64_t {
      return value == 0 ? fallback : static_cast<int64_t>(value);
    };
    std::string identity = DeterministicBytes(pipeline);
    std::shared_ptr<const Dataset> dataset;
    switch (pipeline.source_case()) {
      case v1::PipelineConfig::kSynthetic: {
        const v1::SyntheticSource& source = pipeline.synthetic();
        absl::StatusOr<SyntheticImageDataset> synthetic = SyntheticImageDataset::Create(
            {.num_samples = or_default(source.num_samples(), 1024),
             .height = or_default(source.height(), 32),
             .width = or_default(source.width(), 32),
             .channels = or_default(source.channels(), 3),
             .num_classes = or_default(source.num_classes(), 10),
             .distinct_samples =
                 static_cast<int64_t>(std::min<uint64_t>(source.distinct_samples(), INT64_MAX))});
        if (!synthetic.ok()) return invalid(synthetic.status().message());
        dataset = std::make_shared<const SyntheticImageDataset>(*std::move(synthetic));
        break;
      }
      case v1::PipelineConfig::kImageFolder:
      case v1::PipelineConfig::kFileList: {
        absl::StatusOr<std::unique_ptr<FileDataset>> files;
        if (pipeline.has_image_folder()) {
          const v1::ImageFolderSource& source = pipeline.image_folder();
          std::vector<std::string> extensions(source.extensions().begin(),
                                              source.extensions().end());
          if (extensions.empty()) extensions = FileDataset::DefaultExtensions();
          files = FileDataset::FromImageFolder(source.root(), extensions);
        } else {
          files = FileDataset::FromListFile(pipeline.file_list().root(),
                                            pipeline.file_list().list_file());
        }
        if (!files.ok()) {
          return absl::Status(
              files.status().code(),
              absl::StrCat("pipeline '", pipeline.name(), "': source: ", files.status().message()));
        }
        const uint64_t listing = (*files)->ListingFingerprint();
        identity.append(reinterpret_cast<const char*>(&listing), sizeof listing);
        dataset = *std::move(files);
        break;
      }
      case v1::PipelineConfig::SOURCE_NOT_SET:
        return invalid("no source (set 'synthetic', 'image_folder' or 'file_list')");
    }
    PipelineDefinition definition{
        .name = pipeline.name(),
        .description = pipeline.description(),
        .dataset = std::move(dataset),
        .stages = {},
        .batch_size = pipeline.batch_size(),
        .drop_last = pipeline.drop_last(),
        .shuffle = !pipeline.has_shuffle() || pipeline.shuffle(),
        .load_concurrency = static_cast<int>(or_default(pipeline.load_concurrency(), 2)),
        .sink_buffer = static_cast<int>(or_default(pipeline.sink_buffer(), 4)),
        .max_failures = pipeline.has_max_failures() ? static_cast<int64_t>(pipeline.max_failures())
                                                    : kUnlimitedFailures,
        .config_fingerprint = Fingerprint(identity),
    };
    for (const v1::StageConfig& stage : pipeline.stages()) {
      definition.stages.push_back(StageDefinition{
          .name = stage.name(),
          .op = stage.op(),
          .args = {stage.args().begin(), stage.args().end()},
          .concurrency = static_cast<int>(or_default(stage.concurrency(), 1)),
          .output_order = stage.output_order() == v1::OUTPUT_ORDER_COMPLETION
                              ? OutputOrder::kCompletion
                              : OutputOrder::kInput,
          .max_failures = stage.has_max_failures() ? static_cast<int64_t>(stage.max_failures())
                                                   : kUnlimitedFailures,
      });
    }
    if (absl::Status valid = ValidatePipelineDefinition(definition); !valid.ok()) return valid;
    definitions.push_back(std::move(definition));
  }
  return definitions;
}

}  // namespace dataloader::server
