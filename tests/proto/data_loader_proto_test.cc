// Copyright 2026 The dataloader Authors.
//
// The generated dataloader.v1 code: wire round trips (including a batch far above gRPC's
// default 4 MiB receive limit), text-format server configs, and the service's shape as the
// descriptors publish it (what server reflection and every other language see).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>

#include <cstdint>
#include <string>

#include "dataloader/v1/data_loader.grpc.pb.h"
#include "dataloader/v1/data_loader.pb.h"
#include "dataloader/v1/pipeline_config.pb.h"
#include "gtest/gtest.h"

namespace dataloader::v1 {
namespace {

using ::google::protobuf::MethodDescriptor;
using ::google::protobuf::ServiceDescriptor;
using ::google::protobuf::TextFormat;

constexpr int64_t kMiB = 1024 * 1024;

// A float32 [rows, 2] tensor whose bytes are all distinct from their neighbours.
Tensor MakeTensor(const std::string& name, int64_t rows) {
  Tensor tensor;
  tensor.set_name(name);
  tensor.set_dtype(DTYPE_FLOAT32);
  tensor.add_shape(rows);
  tensor.add_shape(2);
  std::string data(static_cast<size_t>(rows * 2 * 4), '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 1);
  tensor.set_data(std::move(data));
  return tensor;
}

TEST(DataLoaderProtoTest, BatchRoundTripsWithEveryField) {
  Batch batch;
  batch.set_sequence(41);
  batch.set_epoch(3);
  *batch.add_tensors() = MakeTensor("image", 4);
  Tensor* label = batch.add_tensors();
  label->set_name("label");
  label->set_dtype(DTYPE_INT64);
  label->add_shape(4);
  label->set_data(std::string(4 * 8, '\x05'));
  for (int64_t id : {int64_t{9}, int64_t{0}, int64_t{1234567890123}, int64_t{7}})
    batch.add_sample_ids(id);
  batch.set_resume_token(std::string("tok\0en\xff", 7));

  std::string wire;
  ASSERT_TRUE(batch.SerializeToString(&wire));
  Batch parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));

  EXPECT_EQ(parsed.sequence(), 41u);
  EXPECT_EQ(parsed.epoch(), 3u);
  ASSERT_EQ(parsed.tensors_size(), 2);
  const Tensor& image = parsed.tensors(0);
  EXPECT_EQ(image.name(), "image");
  EXPECT_EQ(image.dtype(), DTYPE_FLOAT32);
  ASSERT_EQ(image.shape_size(), 2);
  EXPECT_EQ(image.shape(0), 4);
  EXPECT_EQ(image.shape(1), 2);
  EXPECT_EQ(image.data(), MakeTensor("image", 4).data());
  EXPECT_EQ(parsed.tensors(1).name(), "label");
  EXPECT_EQ(parsed.tensors(1).dtype(), DTYPE_INT64);
  EXPECT_EQ(parsed.tensors(1).data(), std::string(32, '\x05'));
  ASSERT_EQ(parsed.sample_ids_size(), 4);
  EXPECT_EQ(parsed.sample_ids(2), 1234567890123);
  EXPECT_EQ(parsed.resume_token(), std::string("tok\0en\xff", 7));
}

TEST(DataLoaderProtoTest, SixtyFourMiBTensorRoundTrips) {
  // 64 MiB of float32 [8 Mi, 2]: the size of batch the contract tells clients to accept.
  Batch batch;
  batch.set_sequence(1);
  *batch.add_tensors() = MakeTensor("image", 8 * kMiB);
  ASSERT_EQ(static_cast<int64_t>(batch.tensors(0).data().size()), 64 * kMiB);

  std::string wire;
  ASSERT_TRUE(batch.SerializeToString(&wire));
  EXPECT_GT(static_cast<int64_t>(wire.size()), 64 * kMiB);
  Batch parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  ASSERT_EQ(parsed.tensors_size(), 1);
  EXPECT_EQ(parsed.tensors(0).shape(0), 8 * kMiB);
  // Compare without gtest printing 64 MiB on a failure.
  EXPECT_TRUE(parsed.tensors(0).data() == batch.tensors(0).data());
}

TEST(DataLoaderProtoTest, RequestKeepsZeroMaxBatchesAndToken) {
  StreamBatchesRequest request;
  request.set_pipeline("train");
  request.set_shard_index(2);
  request.set_shard_count(8);
  request.set_epoch(5);
  request.set_seed(0xFFFFFFFFFFFFFFFFu);
  request.set_resume_token("opaque");
  std::string wire;
  ASSERT_TRUE(request.SerializeToString(&wire));
  StreamBatchesRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.pipeline(), "train");
  EXPECT_EQ(parsed.shard_index(), 2u);
  EXPECT_EQ(parsed.shard_count(), 8u);
  EXPECT_EQ(parsed.epoch(), 5u);
  EXPECT_EQ(parsed.seed(), 0xFFFFFFFFFFFFFFFFu);
  EXPECT_EQ(parsed.resume_token(), "opaque");
  EXPECT_EQ(parsed.max_batches(), 0u);  // 0: to the end of the epoch.
}

TEST(DataLoaderProtoTest, ServerConfigParsesFromTextFormat) {
  ServerConfig config;
  ASSERT_TRUE(TextFormat::ParseFromString(
      R"pb(
        pipelines {
          name: "train"
          description: "synthetic"
          synthetic { num_samples: 10000 height: 224 width: 224 channels: 3 num_classes: 1000 }
          stages {
            op: "normalize"
            args { key: "mean" value: "0.5" }
            args { key: "layout" value: "chw" }
            concurrency: 4
            output_order: OUTPUT_ORDER_COMPLETION
            max_failures: 0
          }
          stages { name: "cost" op: "cpu_cost" }
          batch_size: 32
          drop_last: true
          shuffle: false
          load_concurrency: 3
          sink_buffer: 5
          max_failures: 10
        }
        pipelines { name: "eval" batch_size: 8 }
      )pb",
      &config));
  ASSERT_EQ(config.pipelines_size(), 2);
  const PipelineConfig& train = config.pipelines(0);
  EXPECT_EQ(train.name(), "train");
  ASSERT_EQ(train.source_case(), PipelineConfig::kSynthetic);
  EXPECT_EQ(train.synthetic().num_samples(), 10000u);
  EXPECT_EQ(train.synthetic().height(), 224u);
  EXPECT_EQ(train.synthetic().num_classes(), 1000u);
  ASSERT_EQ(train.stages_size(), 2);
  const StageConfig& normalize = train.stages(0);
  EXPECT_EQ(normalize.op(), "normalize");
  EXPECT_EQ(normalize.args().at("mean"), "0.5");
  EXPECT_EQ(normalize.args().at("layout"), "chw");
  EXPECT_EQ(normalize.concurrency(), 4u);
  EXPECT_EQ(normalize.output_order(), OUTPUT_ORDER_COMPLETION);
  // Explicit presence: 0 (fail at the first error) is distinguishable from unset (unlimited).
  EXPECT_TRUE(normalize.has_max_failures());
  EXPECT_EQ(normalize.max_failures(), 0u);
  EXPECT_FALSE(train.stages(1).has_max_failures());
  EXPECT_EQ(train.stages(1).output_order(), OUTPUT_ORDER_UNSPECIFIED);
  EXPECT_EQ(train.batch_size(), 32u);
  EXPECT_TRUE(train.drop_last());
  EXPECT_TRUE(train.has_shuffle());
  EXPECT_FALSE(train.shuffle());
  EXPECT_EQ(train.load_concurrency(), 3u);
  EXPECT_EQ(train.sink_buffer(), 5u);
  EXPECT_EQ(train.max_failures(), 10u);

  const PipelineConfig& eval = config.pipelines(1);
  EXPECT_EQ(eval.source_case(), PipelineConfig::SOURCE_NOT_SET);
  EXPECT_FALSE(eval.has_shuffle());  // Absent: the server's default (true).
  EXPECT_FALSE(eval.has_max_failures());
}

TEST(DataLoaderProtoTest, MalformedServerConfigFailsToParse) {
  ServerConfig config;
  // Unknown field.
  EXPECT_FALSE(TextFormat::ParseFromString(R"pb(pipelines { name: "a" batch_sz: 4 })pb", &config));
  // Wrong type.
  EXPECT_FALSE(TextFormat::ParseFromString(R"pb(pipelines { batch_size: "four" })pb", &config));
  // Unknown enum value.
  EXPECT_FALSE(TextFormat::ParseFromString(
      R"pb(pipelines { stages { output_order: OUTPUT_ORDER_RANDOM } })pb", &config));
  // Unbalanced braces.
  EXPECT_FALSE(TextFormat::ParseFromString(R"pb(pipelines { name: "a")pb", &config));
  // A singular field given twice.
  EXPECT_FALSE(TextFormat::ParseFromString(R"pb(pipelines { name: "a" name: "b" })pb", &config));
  // The same text with the mistakes fixed parses: the failures above are the mistakes'.
  EXPECT_TRUE(TextFormat::ParseFromString(R"pb(pipelines {
                                                 name: "a"
                                                 batch_size: 4
                                                 stages { output_order: OUTPUT_ORDER_INPUT }
                                               })pb",
                                          &config));
}

TEST(DataLoaderProtoTest, ServiceHasTwoMethodsAndStreamBatchesIsServerStreaming) {
  const ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          "dataloader.v1.DataLoader");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(service->full_name(), "dataloader.v1.DataLoader");
  EXPECT_EQ(std::string(DataLoader::service_full_name()), "dataloader.v1.DataLoader");
  EXPECT_EQ(service->file()->name(), "dataloader/v1/data_loader.proto");
  ASSERT_EQ(service->method_count(), 2);

  const MethodDescriptor* stream = service->FindMethodByName("StreamBatches");
  ASSERT_NE(stream, nullptr);
  EXPECT_FALSE(stream->client_streaming());
  EXPECT_TRUE(stream->server_streaming());
  EXPECT_EQ(stream->input_type(), StreamBatchesRequest::descriptor());
  EXPECT_EQ(stream->output_type(), Batch::descriptor());

  const MethodDescriptor* list = service->FindMethodByName("ListPipelines");
  ASSERT_NE(list, nullptr);
  EXPECT_FALSE(list->client_streaming());
  EXPECT_FALSE(list->server_streaming());
  EXPECT_EQ(list->input_type(), ListPipelinesRequest::descriptor());
  EXPECT_EQ(list->output_type(), ListPipelinesResponse::descriptor());
}

TEST(DataLoaderProtoTest, DTypeNumbersAreTheContractsOnes) {
  // Clients in other languages switch on these numbers; they must never change.
  EXPECT_EQ(DTYPE_UNSPECIFIED, 0);
  EXPECT_EQ(DTYPE_UINT8, 1);
  EXPECT_EQ(DTYPE_INT8, 2);
  EXPECT_EQ(DTYPE_INT16, 3);
  EXPECT_EQ(DTYPE_INT32, 4);
  EXPECT_EQ(DTYPE_INT64, 5);
  EXPECT_EQ(DTYPE_FLOAT16, 6);
  EXPECT_EQ(DTYPE_BFLOAT16, 7);
  EXPECT_EQ(DTYPE_FLOAT32, 8);
  EXPECT_EQ(DTYPE_FLOAT64, 9);
  EXPECT_EQ(DTYPE_BOOL, 10);
  EXPECT_EQ(DType_descriptor()->value_count(), 11);
}

}  // namespace
}  // namespace dataloader::v1
