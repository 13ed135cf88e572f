// Copyright 2026 The dataloader Authors.
//
// InProcessServer: a real DataLoaderService on a loopback port, for tests of the service and
// of clients. The pipelines come from a text-format ServerConfig.
//
//   InProcessServer server(kConfigText);          // a free port on 127.0.0.1
//   auto stub = server.Stub();
//   InProcessServer again(kConfigText, port);     // the same port, e.g. after a restart
#ifndef TESTS_SERVER_SERVICE_IN_PROCESS_SERVER_H_
#define TESTS_SERVER_SERVICE_IN_PROCESS_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/runtime.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "server/service/data_loader_service.h"
#include "server/service/server_config.h"

namespace dataloader::testing {

class InProcessServer {
 public:
  explicit InProcessServer(const std::string& config_text, int port = 0) {
    v1::ServerConfig config;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(config_text, &config));
    auto definitions = server::ToDefinitions(config);
    EXPECT_TRUE(definitions.ok()) << definitions.status();
    runtime_ = *Runtime::Create({.num_threads = 2});
    auto service =
        server::DataLoaderService::Create(*definitions, *runtime_, {.log_streams = false});
    EXPECT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    grpc::EnableDefaultHealthCheckService(true);  // As dataloader_server does.
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(service_.get());
    builder.SetMaxSendMessageSize(-1);
    server_ = builder.BuildAndStart();
    EXPECT_NE(port_, 0);
    server::MarkServingInHealthService(*server_);
  }
  ~InProcessServer() { Shutdown(); }
  InProcessServer(const InProcessServer&) = delete;
  InProcessServer& operator=(const InProcessServer&) = delete;

  // Cancels every call in flight (clients see UNAVAILABLE) and stops listening. Idempotent.
  void Shutdown() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }
  int port() const { return port_; }
  // What dataloader_server does on SIGTERM before it drains.
  void SetServing(bool serving) { server_->GetHealthCheckService()->SetServingStatus(serving); }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  const server::DataLoaderService& service() const { return *service_; }
  // What dataloader_server does on SIGTERM (see DataLoaderService::Drain).
  int Drain(absl::Time deadline) { return service_->Drain(deadline); }
  // A stub whose channel accepts batches of any size.
  std::unique_ptr<v1::DataLoader::Stub> Stub() const {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    return v1::DataLoader::NewStub(
        grpc::CreateCustomChannel(target(), grpc::InsecureChannelCredentials(), args));
  }

 private:
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<server::DataLoaderService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace dataloader::testing

#endif  // TESTS_SERVER_SERVICE_IN_PROCESS_SERVER_H_
