// Copyright 2026 The dataloader Authors.
//
// A server with an op of its own: how a user adds an op without editing the server. It links
// the server library, registers an "invert" op next to the built-in ones, and serves a config
// that uses it, with the same drain on SIGTERM as dataloader_server.
//
//   build/examples/custom_op_server --address=127.0.0.1:50051
//   build/client/dataloader_client --target=127.0.0.1:50051 --pipeline=inverted --verify
//
// An op is a class with Run() (or Start() for an asynchronous one) and an OpSpec: its name,
// what it does, its arguments (name, type, default, meaning), and a factory that makes it
// from arguments already checked against those declarations.
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/command_line.h"
#include "google/protobuf/text_format.h"
#include "server/ops/builtin_ops.h"
#include "server/ops/op.h"
#include "server/ops/op_registry.h"
#include "server/service/data_loader_server.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051", "HOST:PORT to listen on; port 0 picks one.");
ABSL_FLAG(int, threads, 0, "Threads of the server's pool; 0: one per core.");
ABSL_FLAG(int, shutdown_grace_seconds, 10, "Drain deadline on SIGTERM/SIGINT.");

namespace {

using dataloader::TaskContext;
using dataloader::server::ArgType;
using dataloader::server::DType;
using dataloader::server::Op;
using dataloader::server::OpArgs;
using dataloader::server::OpRegistry;
using dataloader::server::Sample;
using dataloader::server::Tensor;

// 255 - x for every byte of a uint8 tensor (a negative image).
class InvertOp final : public Op {
 public:
  explicit InvertOp(std::string tensor) : tensor_(std::move(tensor)) {}

  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    absl::StatusOr<Tensor*> tensor = sample.Find(tensor_);
    if (!tensor.ok()) return tensor.status();
    if ((*tensor)->dtype != DType::kUint8) {
      return absl::InvalidArgumentError(
          absl::StrCat(sample.Describe(), ": invert: tensor '", tensor_, "' must be uint8"));
    }
    for (uint8_t& byte : (*tensor)->data) byte = static_cast<uint8_t>(255 - byte);
    return sample;
  }

 private:
  const std::string tensor_;
};

absl::Status RegisterInvert(OpRegistry& ops) {
  return ops.Register(
      {.name = "invert",
       .summary = "255 - x for every byte of a uint8 tensor (a negative image).",
       .args = {{.name = "tensor", .default_value = "image", .help = "the tensor to invert"}},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         return std::make_unique<InvertOp>(args.String("tensor"));
       }});
}

constexpr char kConfig[] = R"pb(
  pipelines {
    name: "inverted"
    description: "64 synthetic 16x16 RGB images, inverted by the example's own op"
    synthetic { num_samples: 64 height: 16 width: 16 channels: 3 num_classes: 4 }
    stages { op: "invert" }
    batch_size: 8
    shuffle: false
  }
)pb";

}  // namespace

int main(int argc, char** argv) {
  sigset_t signals;  // Blocked before any thread starts: only the sigwait below gets them.
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  dataloader::cli::ParseCommandLineOrExit(argc, argv);

  // The built-in ops, and this binary's own.
  OpRegistry ops;
  absl::Status registered = dataloader::server::RegisterBuiltinOps(ops);
  if (registered.ok()) registered = RegisterInvert(ops);
  if (!registered.ok()) {
    std::fprintf(stderr, "custom_op_server: %s\n", registered.ToString().c_str());
    return 1;
  }
  dataloader::server::DataLoaderServerOptions options{.address = absl::GetFlag(FLAGS_address),
                                                      .ops = &ops,
                                                      .threads = absl::GetFlag(FLAGS_threads)};
  google::protobuf::TextFormat::ParseFromString(kConfig, &options.config);
  auto server = dataloader::server::DataLoaderServer::Start(std::move(options));
  if (!server.ok()) {
    std::fprintf(stderr, "custom_op_server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  const std::string address = absl::GetFlag(FLAGS_address);
  std::printf("custom_op_server: serving [inverted] on %s:%d\n",
              address.substr(0, address.rfind(':')).c_str(), (*server)->port());
  std::fflush(stdout);

  std::thread stopper([&] {
    int received = 0;
    sigwait(&signals, &received);
    (*server)->Drain(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  });
  (*server)->Wait();
  stopper.join();
  return 0;
}
