// Copyright 2026 The dataloader Authors.

#include "server/service/data_loader_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/ops/builtin_ops.h"

namespace dataloader::server {
namespace {

// gRPC's Shutdown waits out its whole deadline even with no call left (seen with 1.51), so
// after our own drain the deadline is short: it only lets in-flight unary calls answer.
constexpr auto kGrpcShutdownGrace = std::chrono::milliseconds(500);

}  // namespace

absl::StatusOr<std::unique_ptr<DataLoaderServer>> DataLoaderServer::Start(
    DataLoaderServerOptions options) {
  // Security first: a bad certificate path should not wait for the pipelines' probes.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      CreateServerCredentials(options.security, options.address);
  if (!credentials.ok()) return credentials.status();

  std::unique_ptr<DataLoaderServer> server(new DataLoaderServer());
  const OpRegistry* ops = options.ops;
  if (ops == nullptr) {
    server->own_ops_ = std::make_unique<OpRegistry>();
    if (absl::Status status = RegisterBuiltinOps(*server->own_ops_); !status.ok()) return status;
    ops = server->own_ops_.get();
  }
  absl::StatusOr<std::vector<PipelineDefinition>> definitions = ToDefinitions(options.config, *ops);
  if (!definitions.ok()) return definitions.status();
  for (const PipelineDefinition& definition : *definitions) {
    server->pipeline_names_.push_back(definition.name);
  }
  absl::StatusOr<std::unique_ptr<Runtime>> runtime =
      Runtime::Create({.num_threads = options.threads});
  if (!runtime.ok()) return runtime.status();
  server->runtime_ = *std::move(runtime);
  absl::StatusOr<std::unique_ptr<ServerMetrics>> metrics =
      ServerMetrics::Create({.listen_address = options.metrics_address});
  if (!metrics.ok()) return metrics.status();
  server->metrics_ = *std::move(metrics);
  absl::StatusOr<std::unique_ptr<DataLoaderService>> service =
      DataLoaderService::Create(*std::move(definitions), *server->runtime_, *ops,
                                {.max_streams = options.max_streams,
                                 .log_streams = options.log_streams,
                                 .metrics = server->metrics_.get(),
                                 .failure_log = options.failure_log});
  if (!service.ok()) return service.status();
  server->service_ = *std::move(service);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, *credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  builder.SetMaxSendMessageSize(-1);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.address,
        options.security.tls_cert_file.empty()
            ? ""
            : " (or gRPC rejected the TLS material: is the key that of the certificate?)"));
  }
  // "" is SERVING by default; the service's own name is what data_loader.proto promises too.
  // SetServingStatus(false) later covers both.
  if (grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService()) {
    health->SetServingStatus(v1::DataLoader::service_full_name(), true);
  }
  return server;
}

DataLoaderServer::~DataLoaderServer() { Drain(absl::Now()); }

int DataLoaderServer::Drain(absl::Time deadline) {
  MutexLock lock(&drain_mu_);
  if (drained_) return ended_by_drain_;
  drained_ = true;
  if (server_ == nullptr) return 0;
  // Refuse first, then tell the probes: whoever sees NOT_SERVING is refused too.
  service_->BeginDrain();
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  ended_by_drain_ = service_->Drain(deadline);
  server_->Shutdown(std::chrono::system_clock::now() + kGrpcShutdownGrace);
  return ended_by_drain_;
}

void DataLoaderServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace dataloader::server
