// Copyright 2026 The dataloader Authors.
//
// How much the service costs on top of the pipeline, with 1 MiB batches from an in-memory
// (synthetic) source and no ops, all measured in one run so the ratios compare like with like:
//
//   (a) in-process: the stream's pipeline (BuildStreamPipeline) consumed directly;
//   (b) loopback:   the same pipeline served by DataLoaderService and read with the client
//                   library (BatchStream, prefetch 4) over 127.0.0.1;
//   (c) raw gRPC:   a minimal DataLoader service that writes one prebuilt 1 MiB Batch over
//                   and over (no pipeline), read with a plain stub: what gRPC alone costs.
//
// Counters: MB/s of each, b/a (target >= 0.9), b/c (target >= 1.0: the service copies no
// more than a plain stream does), time to first batch of (b) (target <= 100 ms) and the
// process's peak RSS (VmHWM; server and client share the process, so this bounds the server's).
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "client/batch_stream.h"
#include "core/runtime.h"
#include "server/pipeline/stream_pipeline.h"
#include "server/service/malloc_tuning.h"
#include "tests/server/ops/test_ops.h"
#include "tests/server/service/in_process_server.h"

namespace dataloader {
namespace {

constexpr int kBatches = 512;
// 4 samples of 256 x 256 x 4 uint8 = 1 MiB of image per batch (plus 32 bytes of labels).
constexpr char kConfig[] = R"pb(
  pipelines {
    name: "mib"
    synthetic { num_samples: 2048 height: 256 width: 256 channels: 4 num_classes: 10 }
    batch_size: 4
    shuffle: false
    load_concurrency: 2
    sink_buffer: 4
  }
)pb";

double PeakRssMiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  }
  return 0;
}

// (a)
double InProcessMBps() {
  v1::ServerConfig config;
  google::protobuf::TextFormat::ParseFromString(kConfig, &config);
  auto definitions = server::ToDefinitions(config, testing::BuiltinOps());
  auto runtime = *Runtime::Create({.num_threads = 2});
  auto pipeline =
      server::BuildStreamPipeline(definitions->front(), {}, *runtime, testing::BuiltinOps());
  const absl::Time start = absl::Now();
  int64_t bytes = 0;
  for (server::CollatedBatch& batch : **pipeline) {
    for (const server::BatchTensor& tensor : batch.tensors) bytes += tensor.data.size();
    benchmark::DoNotOptimize(batch);
  }
  return bytes / 1e6 / absl::ToDoubleSeconds(absl::Now() - start);
}

// (b)
double LoopbackMBps(double& first_batch_ms) {
  testing::InProcessServer server(kConfig);
  v1::StreamBatchesRequest request;
  request.set_pipeline("mib");
  const absl::Time start = absl::Now();
  auto stream = client::BatchStream::Open({.target = server.target()}, request);
  int64_t bytes = 0;
  bool first = true;
  while (true) {
    absl::StatusOr<std::optional<v1::Batch>> batch = (*stream)->Next();
    if (!batch.ok() || !batch->has_value()) break;
    if (first) {
      first_batch_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
      first = false;
    }
    for (const v1::Tensor& tensor : (*batch)->tensors()) bytes += tensor.data().size();
  }
  return bytes / 1e6 / absl::ToDoubleSeconds(absl::Now() - start);
}

// (c) A DataLoader that streams one prebuilt batch kBatches times.
class RawService final : public v1::DataLoader::CallbackService {
 public:
  RawService() {
    v1::Tensor* tensor = batch_.add_tensors();
    tensor->set_name("image");
    tensor->set_dtype(v1::DTYPE_UINT8);
    tensor->mutable_data()->assign(4 * 256 * 256 * 4, '\x7f');
  }
  grpc::ServerWriteReactor<v1::Batch>* StreamBatches(grpc::CallbackServerContext*,
                                                     const v1::StreamBatchesRequest*) override {
    class Writer final : public grpc::ServerWriteReactor<v1::Batch> {
     public:
      explicit Writer(const v1::Batch& batch) : batch_(batch) { Next(); }
      void OnWriteDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::CANCELLED);
        Next();
      }
      void OnDone() override { delete this; }

     private:
      void Next() {
        if (sent_++ == kBatches) return Finish(grpc::Status::OK);
        StartWrite(&batch_);
      }
      const v1::Batch& batch_;
      int sent_ = 0;
    };
    return new Writer(batch_);
  }

 private:
  v1::Batch batch_;
};

double RawGrpcMBps() {
  RawService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  auto stub = v1::DataLoader::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  const absl::Time start = absl::Now();
  auto reader = stub->StreamBatches(&context, {});
  v1::Batch batch;
  int64_t bytes = 0;
  while (reader->Read(&batch)) {
    for (const v1::Tensor& tensor : batch.tensors()) bytes += tensor.data().size();
  }
  reader->Finish().IgnoreError();
  const double mbps = bytes / 1e6 / absl::ToDoubleSeconds(absl::Now() - start);
  server->Shutdown();
  return mbps;
}

void BM_Stream_1MiB(benchmark::State& state) {
  double a = 0, b = 0, c = 0, first_ms = 0;
  for (auto _ : state) {
    a += InProcessMBps();
    double first = 0;
    b += LoopbackMBps(first);
    first_ms += first;
    c += RawGrpcMBps();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["inprocess_MBps"] = a / n;
  state.counters["loopback_MBps"] = b / n;
  state.counters["raw_grpc_MBps"] = c / n;
  state.counters["b_over_a"] = b / a;
  state.counters["b_over_c"] = b / c;
  state.counters["first_batch_ms"] = first_ms / n;
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}
BENCHMARK(BM_Stream_1MiB)->UseRealTime()->Unit(benchmark::kSecond)->Iterations(3);

}  // namespace
}  // namespace dataloader

int main(int argc, char** argv) {
  dataloader::DisableMutexDeadlockDetection();
  dataloader::server::TuneMallocForBatches();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
