// Copyright 2026 The dataloader Authors.
//
// InProcessServer: a DataLoaderServer on a loopback port serving a text-format ServerConfig,
// for tests of the service and of clients, with a stub that accepts batches of any size.
//
//   InProcessServer server(kConfigText);          // a free port on 127.0.0.1
//   auto stub = server.Stub();
//   InProcessServer again(kConfigText, port);     // the same port, e.g. after a restart
#ifndef TESTS_SERVER_SERVICE_IN_PROCESS_SERVER_H_
#define TESTS_SERVER_SERVICE_IN_PROCESS_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "server/service/data_loader_server.h"

namespace dataloader::testing {

class InProcessServer {
 public:
  // `options.config` is replaced by `config_text`, `options.address` by 127.0.0.1:`port`.
  explicit InProcessServer(const std::string& config_text, int port = 0,
                           server::DataLoaderServerOptions options = {.threads = 2,
                                                                      .log_streams = false}) {
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(config_text, &options.config));
    options.address = absl::StrCat("127.0.0.1:", port);
    auto server = server::DataLoaderServer::Start(std::move(options));
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) server_ = *std::move(server);
  }

  // Ends every stream at once (clients see UNAVAILABLE) and stops listening. Idempotent.
  void Shutdown() { server_->Drain(absl::Now()); }
  // What dataloader_server does on SIGTERM.
  int Drain(absl::Time deadline) { return server_->Drain(deadline); }
  int port() const { return server_->port(); }
  std::string target() const { return absl::StrCat("127.0.0.1:", port()); }
  server::DataLoaderService& service() { return server_->service(); }
  server::DataLoaderServer& server() { return *server_; }
  // A stub whose channel accepts batches of any size.
  std::unique_ptr<v1::DataLoader::Stub> Stub() const {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    return v1::DataLoader::NewStub(
        grpc::CreateCustomChannel(target(), grpc::InsecureChannelCredentials(), args));
  }

 private:
  std::unique_ptr<server::DataLoaderServer> server_;
};

}  // namespace dataloader::testing

#endif  // TESTS_SERVER_SERVICE_IN_PROCESS_SERVER_H_
