// Copyright 2026 The dataloader Authors.

#include "server/service/server_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "server/io/aws_credentials.h"
#include "server/io/object_store.h"
#include "server/pipeline/file_dataset.h"
#include "server/pipeline/remote_dataset.h"
#include "server/pipeline/synthetic_dataset.h"
#include "server/pipeline/tar_shard_dataset.h"

namespace dataloader::server {
namespace {

class CollectFirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error.empty()) error = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  std::string error;
};

io::HttpClientOptions ToHttpOptions(const v1::HttpConfig& config) {
  io::HttpClientOptions options;
  if (config.connect_timeout_ms() > 0) {
    options.connect_timeout = absl::Milliseconds(config.connect_timeout_ms());
  }
  if (config.request_timeout_ms() > 0) {
    options.request_timeout = absl::Milliseconds(config.request_timeout_ms());
  }
  if (config.max_attempts() > 0)
    options.retry.max_attempts = static_cast<int>(config.max_attempts());
  if (config.initial_backoff_ms() > 0) {
    options.retry.initial_backoff = absl::Milliseconds(config.initial_backoff_ms());
  }
  if (config.max_backoff_ms() > 0) {
    options.retry.max_backoff = absl::Milliseconds(config.max_backoff_ms());
  }
  options.ca_file = config.ca_file();
  options.max_connections_per_host = static_cast<int>(config.max_connections_per_host());
  return options;
}

// Reads the credentials now (start-up); their values go nowhere but the store.
absl::StatusOr<io::S3Options> ToS3Options(const v1::S3Config& config) {
  io::S3Options options;
  options.endpoint = config.endpoint();
  if (!config.region().empty()) options.region = config.region();
  options.path_style = config.path_style();
  options.anonymous = config.anonymous();
  if (!options.anonymous) {
    absl::StatusOr<io::AwsCredentials> credentials = io::LoadAwsCredentials(
        {.credentials_file = config.credentials_file(), .profile = config.profile()});
    if (!credentials.ok()) return credentials.status();
    options.credentials = *std::move(credentials);
  }
  return options;
}

// The remote dataset of a url_list or s3_prefix source, listed and checked now.
absl::StatusOr<std::shared_ptr<RemoteDataset>> MakeRemoteDataset(
    const v1::PipelineConfig& pipeline) {
  io::ObjectStoreOptions store_options;
  const bool is_list = pipeline.has_url_list();
  const v1::HttpConfig& http = is_list ? pipeline.url_list().http() : pipeline.s3_prefix().http();
  store_options.http = ToHttpOptions(http);
  const bool has_s3 = is_list ? pipeline.url_list().has_s3() : true;
  if (has_s3) {
    absl::StatusOr<io::S3Options> s3 =
        ToS3Options(is_list ? pipeline.url_list().s3() : pipeline.s3_prefix().s3());
    if (!s3.ok()) return s3.status();
    store_options.s3 = *std::move(s3);
  }
  absl::StatusOr<std::shared_ptr<io::ObjectStore>> store =
      io::ObjectStore::Create(std::move(store_options));
  if (!store.ok()) return store.status();
  absl::StatusOr<std::unique_ptr<RemoteDataset>> dataset;
  if (is_list) {
    if (pipeline.url_list().list_file().empty()) {
      return absl::InvalidArgumentError("url_list.list_file must be set");
    }
    dataset = RemoteDataset::FromUrlList(pipeline.url_list().list_file(), *std::move(store));
  } else {
    const v1::S3PrefixSource& source = pipeline.s3_prefix();
    std::vector<std::string> extensions(source.extensions().begin(), source.extensions().end());
    if (extensions.empty()) extensions = FileDataset::DefaultExtensions();
    dataset = RemoteDataset::FromS3Prefix(source.bucket(), source.prefix(), extensions,
                                          *std::move(store));
  }
  if (!dataset.ok()) return dataset.status();
  if (absl::Status reachable = (*dataset)->CheckReachable(); !reachable.ok()) return reachable;
  return std::shared_ptr<RemoteDataset>(*std::move(dataset));
}

// The tar shards of a tar_shards source: the manifest read now (from its store if a URL).
absl::StatusOr<std::shared_ptr<TarShardDataset>> MakeTarShardDataset(
    const v1::TarShardsSource& source) {
  constexpr uint32_t kMaxShuffleBuffer = 1u << 20;
  if (source.manifest().empty()) {
    return absl::InvalidArgumentError("tar_shards.manifest must be set");
  }
  if (source.has_shuffle_buffer() && source.shuffle_buffer() > kMaxShuffleBuffer) {
    return absl::InvalidArgumentError(absl::StrCat("tar_shards.shuffle_buffer must be at most ",
                                                   kMaxShuffleBuffer, ", got ",
                                                   source.shuffle_buffer()));
  }
  TarShardOptions options{.manifest = source.manifest(),
                          .shuffle_buffer = source.has_shuffle_buffer()
                                                ? static_cast<int64_t>(source.shuffle_buffer())
                                                : int64_t{1000}};
  constexpr uint32_t kMaxRangeBytes = 256u << 20;  // ObjectStore's default max_bytes.
  if (source.range_bytes() > kMaxRangeBytes) {
    return absl::InvalidArgumentError(absl::StrCat("tar_shards.range_bytes must be at most ",
                                                   kMaxRangeBytes, ", got ", source.range_bytes()));
  }
  if (source.range_bytes() > 0) options.remote.chunk_bytes = source.range_bytes();
  if (source.has_s3() || source.has_http() || source.manifest().find("://") != std::string::npos) {
    io::ObjectStoreOptions store_options;
    store_options.http = ToHttpOptions(source.http());
    if (source.has_s3()) {
      absl::StatusOr<io::S3Options> s3 = ToS3Options(source.s3());
      if (!s3.ok()) return s3.status();
      store_options.s3 = *std::move(s3);
    }
    absl::StatusOr<std::shared_ptr<io::ObjectStore>> store =
        io::ObjectStore::Create(std::move(store_options));
    if (!store.ok()) return store.status();
    options.store = *std::move(store);
  }
  absl::StatusOr<std::unique_ptr<TarShardDataset>> dataset =
      TarShardDataset::Open(std::move(options));
  if (!dataset.ok()) return dataset.status();
  return std::shared_ptr<TarShardDataset>(*std::move(dataset));
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
          }
          stages {
            op: "normalize"
            args { key: "mean" value: "0.485,0.456,0.406" }
            args { key: "std" value: "0.229,0.224,0.225" }
            args { key: "layout" value: "chw" }
          }
          batch_size: 32
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

absl::StatusOr<std::vector<PipelineDefinition>> ToDefinitions(const v1::ServerConfig& config,
                                                              const OpRegistry& ops) {
  std::vector<PipelineDefinition> definitions;
  std::set<std::string> names;
  if (config.pipelines().empty()) return absl::InvalidArgumentError("config has no pipelines");
  for (const v1::PipelineConfig& pipeline : config.pipelines()) {
    auto invalid = [&](auto&&... parts) {
      return absl::InvalidArgumentError(
          absl::StrCat("pipeline '", pipeline.name(), "': ", parts...));
    };
    // A config field as the definition's integer: its default when 0 (or absent), else the
    // value if it is within [1, max]. Config fields are unsigned and up to 64 bits wide; a
    // value past what the server can use is an error naming it, never narrowed.
    auto bounded = [&](const std::string& field, uint64_t value, int64_t fallback,
                       uint64_t max) -> absl::StatusOr<int64_t> {
      if (value == 0) return fallback;
      if (value > max) return invalid(field, " must be <= ", max, ", got ", value);
      return static_cast<int64_t>(value);
    };
    auto budget = [&](const std::string& field, bool has,
                      uint64_t value) -> absl::StatusOr<int64_t> {
      if (!has) return kUnlimitedFailures;
      const uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      if (value > max)
        return invalid(field, " must be <= ", max, " (or absent: unlimited), got ", value);
      return static_cast<int64_t>(value);
    };
    if (pipeline.name().empty()) return absl::InvalidArgumentError("a pipeline has no name");
    if (!names.insert(pipeline.name()).second) return invalid("name used twice");
    std::shared_ptr<const Dataset> dataset;
    switch (pipeline.source_case()) {
      case v1::PipelineConfig::kSynthetic: {
        const v1::SyntheticSource& source = pipeline.synthetic();
        absl::StatusOr<int64_t> num_samples =
            bounded("synthetic.num_samples", source.num_samples(), 1024, kMaxSamples);
        if (!num_samples.ok()) return num_samples.status();
        auto or_default = [](uint32_t value, int64_t fallback) {
          return value == 0 ? fallback : static_cast<int64_t>(value);
        };
        absl::StatusOr<SyntheticImageDataset> synthetic = SyntheticImageDataset::Create(
            {.num_samples = *num_samples,
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
        dataset = *std::move(files);
        break;
      }
      case v1::PipelineConfig::kUrlList:
      case v1::PipelineConfig::kS3Prefix: {
        absl::StatusOr<std::shared_ptr<RemoteDataset>> remote = MakeRemoteDataset(pipeline);
        if (!remote.ok()) {
          return absl::Status(remote.status().code(),
                              absl::StrCat("pipeline '", pipeline.name(),
                                           "': source: ", remote.status().message()));
        }
        dataset = *std::move(remote);
        break;
      }
      case v1::PipelineConfig::kTarShards: {
        absl::StatusOr<std::shared_ptr<TarShardDataset>> shards =
            MakeTarShardDataset(pipeline.tar_shards());
        if (!shards.ok()) {
          return absl::Status(shards.status().code(),
                              absl::StrCat("pipeline '", pipeline.name(),
                                           "': source: ", shards.status().message()));
        }
        dataset = *std::move(shards);
        break;
      }
      case v1::PipelineConfig::SOURCE_NOT_SET:
        return invalid(
            "no source (set 'synthetic', 'image_folder', 'file_list', 'url_list', 's3_prefix' "
            "or 'tar_shards')");
    }
    absl::StatusOr<int64_t> load_concurrency =
        bounded("load_concurrency", pipeline.load_concurrency(), kAutomatic, kMaxStageConcurrency);
    absl::StatusOr<int64_t> sink_buffer =
        bounded("sink_buffer", pipeline.sink_buffer(), 4, kMaxSinkBuffer);
    absl::StatusOr<int64_t> max_failures =
        budget("max_failures", pipeline.has_max_failures(), pipeline.max_failures());
    for (const auto* each : {&load_concurrency, &sink_buffer, &max_failures}) {
      if (!each->ok()) return each->status();
    }
    PipelineDefinition definition{
        .name = pipeline.name(),
        .description = pipeline.description(),
        .dataset = std::move(dataset),
        .stages = {},
        .batch_size = pipeline.batch_size(),
        .drop_last = pipeline.drop_last(),
        .shuffle = !pipeline.has_shuffle() || pipeline.shuffle(),
        .load_concurrency = static_cast<int>(*load_concurrency),
        .sink_buffer = static_cast<int>(*sink_buffer),
        .max_failures = *max_failures,
    };
    for (int i = 0; i < pipeline.stages_size(); ++i) {
      const v1::StageConfig& stage = pipeline.stages(i);
      const std::string field = absl::StrCat("stages[", i, "] (", stage.op(), ")");
      absl::StatusOr<int64_t> concurrency =
          bounded(absl::StrCat(field, ".concurrency"), stage.concurrency(), kAutomatic,
                  kMaxStageConcurrency);
      absl::StatusOr<int64_t> stage_failures = budget(
          absl::StrCat(field, ".max_failures"), stage.has_max_failures(), stage.max_failures());
      if (!concurrency.ok()) return concurrency.status();
      if (!stage_failures.ok()) return stage_failures.status();
      definition.stages.push_back(StageDefinition{
          .name = stage.name(),
          .op = stage.op(),
          .args = {stage.args().begin(), stage.args().end()},
          .concurrency = static_cast<int>(*concurrency),
          .output_order = stage.output_order() == v1::OUTPUT_ORDER_INPUT ? OutputOrder::kInput
                                                                         : OutputOrder::kCompletion,
          .max_failures = *stage_failures,
      });
    }
    definition.config_fingerprint = ContentFingerprint(definition);
    if (absl::Status valid = ValidatePipelineDefinition(definition, ops); !valid.ok()) return valid;
    definitions.push_back(std::move(definition));
  }
  return definitions;
}

}  // namespace dataloader::server
