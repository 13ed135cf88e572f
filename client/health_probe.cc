// Copyright 2026 The dataloader Authors.
//
// dataloader_health_probe: asks a server's standard health service (grpc.health.v1.Health/Check)
// whether it is serving. For container health checks (Dockerfile HEALTHCHECK, compose) and
// scripts; Kubernetes can use its native gRPC probe instead.
//
//   dataloader_health_probe --target=127.0.0.1:50051 [--service=NAME] [--timeout_ms=N]
//
// Prints one line on stdout ("SERVING", "NOT_SERVING", ...) or on stderr (the gRPC error,
// e.g. UNAVAILABLE when nothing listens). Exit code 0 if the status is SERVING, 1 otherwise,
// bad flags included: Docker's HEALTHCHECK reserves exit code 2, so nothing else is used.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "cli/command_line.h"
#include "client/security_flags.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "The server, HOST:PORT (any gRPC target).");
ABSL_FLAG(std::string, service, "",
          "The service whose health is asked; empty: the server as a whole. The dataloader "
          "server also answers for 'dataloader.v1.DataLoader'.");
ABSL_FLAG(int, timeout_ms, 2000, "Deadline of the call (connecting included), milliseconds.");

namespace {

constexpr int kExitServing = 0;
constexpr int kExitNotServing = 1;

const char* StatusName(grpc::health::v1::HealthCheckResponse::ServingStatus status) {
  switch (status) {
    case grpc::health::v1::HealthCheckResponse::SERVING:
      return "SERVING";
    case grpc::health::v1::HealthCheckResponse::NOT_SERVING:
      return "NOT_SERVING";
    case grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN:
      return "SERVICE_UNKNOWN";
    default:
      return "UNKNOWN";
  }
}

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "ERROR";
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Checks a gRPC server's health (grpc.health.v1.Health/Check); exit 0 if SERVING, else 1.\n"
      "Usage: dataloader_health_probe --target=HOST:PORT [--service=NAME] [--timeout_ms=N]\n"
      "         [--tls] [--tls_ca_file=PEM] [--tls_cert_file=PEM --tls_key_file=PEM] "
      "[--tls_server_name=NAME] [--allow_insecure]");
  std::vector<char*> rest = dataloader::cli::ParseCommandLineOrExit(argc, argv);
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string service = absl::GetFlag(FLAGS_service);
  const int timeout_ms = absl::GetFlag(FLAGS_timeout_ms);
  if (rest.size() > 1) {
    std::fprintf(stderr, "dataloader_health_probe: unexpected argument '%s'\n", rest[1]);
    return kExitNotServing;
  }
  if (target.empty() || timeout_ms <= 0) {
    std::fprintf(stderr, "dataloader_health_probe: need --target and --timeout_ms > 0\n");
    return kExitNotServing;
  }

  // The same security as dataloader_client (a TLS server needs --tls_ca_file, an mTLS one a
  // client certificate too); the server answers health checks without a token.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = dataloader::client::CreateSecureChannel(
      target, dataloader::client::SecurityOptionsFromFlags(), grpc::ChannelArguments());
  if (!channel.ok()) {
    std::fprintf(stderr, "dataloader_health_probe: %s\n", channel.status().ToString().c_str());
    return kExitNotServing;
  }
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  const std::string what = service.empty() ? target : target + " service '" + service + "'";
  if (!status.ok()) {
    std::fprintf(stderr, "dataloader_health_probe: %s: %s: %s\n", what.c_str(),
                 CodeName(status.error_code()), status.error_message().c_str());
    return kExitNotServing;
  }
  std::printf("dataloader_health_probe: %s: %s\n", what.c_str(), StatusName(response.status()));
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitServing
                                                                             : kExitNotServing;
}
