// Copyright 2026 The dataloader Authors.
//
// dataloader_server: serves the pipelines of a config file (or the built-in default) over
// gRPC. See --help.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/runtime.h"
#include "server/service/data_loader_service.h"
#include "server/service/malloc_tuning.h"
#include "server/service/metrics.h"
#include "server/service/server_config.h"
#include "server/service/server_security.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051",
          "HOST:PORT to listen on (env DATALOADER_ADDRESS). Port 0 picks a free port. "
          "Without --tls_cert_file only a loopback address is served (plaintext), unless "
          "--allow_insecure.");
ABSL_FLAG(std::string, config, "",
          "Text-format dataloader.v1.ServerConfig file with the pipelines to serve (env "
          "DATALOADER_CONFIG). Empty: the built-in 'synthetic' pipeline.");
ABSL_FLAG(int, threads, 0,
          "Threads of the server-wide pool that runs every stream's pipeline (env "
          "DATALOADER_THREADS). 0: one per core.");
ABSL_FLAG(int, max_streams, 64,
          "Streams served at once; more get RESOURCE_EXHAUSTED (env DATALOADER_MAX_STREAMS).");
ABSL_FLAG(int, shutdown_grace_seconds, 10,
          "On SIGTERM/SIGINT (drain): health turns NOT_SERVING and new streams are refused; "
          "running streams get this many seconds to finish, then end with UNAVAILABLE so "
          "clients resume elsewhere (env DATALOADER_SHUTDOWN_GRACE_SECONDS). Keep it below the "
          "orchestrator's kill deadline (terminationGracePeriodSeconds).");
ABSL_FLAG(std::string, metrics_address, "",
          "HOST:PORT of a Prometheus endpoint, http://HOST:PORT/metrics (env "
          "DATALOADER_METRICS_ADDRESS; e.g. 127.0.0.1:9464; port 0 picks one). Empty: off. "
          "Plain HTTP without authentication: keep it on loopback or a trusted network.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain to serve TLS with; needs --tls_key_file (env "
          "DATALOADER_TLS_CERT_FILE).");
ABSL_FLAG(std::string, tls_key_file, "",
          "PEM private key of --tls_cert_file (env DATALOADER_TLS_KEY_FILE).");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA certificate(s): mutual TLS, clients must present a certificate signed by one "
          "(env DATALOADER_TLS_CLIENT_CA_FILE). Needs --tls_cert_file.");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding a bearer token: calls without 'authorization: Bearer <token>' fail with "
          "UNAUTHENTICATED; health checks stay open (env DATALOADER_AUTH_TOKEN_FILE).");
ABSL_FLAG(bool, allow_insecure, false,
          "Serve plaintext on a non-loopback --address (env DATALOADER_ALLOW_INSECURE=true). "
          "Only on a trusted network: batches and tokens travel in clear.");

namespace {

// Applies DATALOADER_* environment variables; command-line flags, parsed after, override them.
bool ApplyEnvironment() {
  auto get = [](const char* name) -> const char* { return std::getenv(name); };
  bool ok = true;
  auto set_int = [&](absl::Flag<int>& flag, const char* name) {
    if (const char* value = get(name)) {
      int parsed = 0;
      if (!absl::SimpleAtoi(value, &parsed)) {
        std::fprintf(stderr, "dataloader_server: %s must be an integer, got '%s'\n", name, value);
        ok = false;
      } else {
        absl::SetFlag(&flag, parsed);
      }
    }
  };
  if (const char* value = get("DATALOADER_ADDRESS")) absl::SetFlag(&FLAGS_address, value);
  if (const char* value = get("DATALOADER_CONFIG")) absl::SetFlag(&FLAGS_config, value);
  if (const char* value = get("DATALOADER_METRICS_ADDRESS")) {
    absl::SetFlag(&FLAGS_metrics_address, value);
  }
  set_int(FLAGS_threads, "DATALOADER_THREADS");
  set_int(FLAGS_max_streams, "DATALOADER_MAX_STREAMS");
  set_int(FLAGS_shutdown_grace_seconds, "DATALOADER_SHUTDOWN_GRACE_SECONDS");
  const std::pair<absl::Flag<std::string>*, const char*> files[] = {
      {&FLAGS_tls_cert_file, "DATALOADER_TLS_CERT_FILE"},
      {&FLAGS_tls_key_file, "DATALOADER_TLS_KEY_FILE"},
      {&FLAGS_tls_client_ca_file, "DATALOADER_TLS_CLIENT_CA_FILE"},
      {&FLAGS_auth_token_file, "DATALOADER_AUTH_TOKEN_FILE"}};
  for (const auto& [flag, name] : files) {
    if (const char* value = get(name)) absl::SetFlag(flag, value);
  }
  if (const char* value = get("DATALOADER_ALLOW_INSECURE")) {
    bool parsed = false;
    if (!absl::SimpleAtob(value, &parsed)) {
      std::fprintf(stderr,
                   "dataloader_server: DATALOADER_ALLOW_INSECURE must be true or false, "
                   "got '%s'\n",
                   value);
      ok = false;
    } else {
      absl::SetFlag(&FLAGS_allow_insecure, parsed);
    }
  }
  return ok;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "dataloader_server: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists (gRPC starts some): every thread inherits the mask, so only
  // the sigwait below receives SIGTERM/SIGINT.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::SetProgramUsageMessage(
      "Serves data-loading pipelines over gRPC (dataloader.v1.DataLoader).\n"
      "Usage: dataloader_server [--address=HOST:PORT] [--config=FILE] [--threads=N]\n"
      "         [--tls_cert_file=PEM --tls_key_file=PEM [--tls_client_ca_file=PEM]]\n"
      "         [--auth_token_file=FILE] [--allow_insecure]");
  if (!ApplyEnvironment()) return 2;
  absl::ParseCommandLine(argc, argv);
  dataloader::DisableMutexDeadlockDetection();
  dataloader::server::TuneMallocForBatches();
  // Before the pipelines are probed: a bad certificate path should not take that long to see.
  const dataloader::server::ServerSecurityOptions security{
      .tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file),
      .tls_key_file = absl::GetFlag(FLAGS_tls_key_file),
      .tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file),
      .auth_token_file = absl::GetFlag(FLAGS_auth_token_file),
      .allow_insecure_remote = absl::GetFlag(FLAGS_allow_insecure)};
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      dataloader::server::CreateServerCredentials(security, absl::GetFlag(FLAGS_address));
  if (!credentials.ok()) return Fail(credentials.status().ToString());

  const std::string config_path = absl::GetFlag(FLAGS_config);
  dataloader::v1::ServerConfig config = dataloader::server::DefaultServerConfig();
  if (!config_path.empty()) {
    absl::StatusOr<dataloader::v1::ServerConfig> read =
        dataloader::server::ReadServerConfig(config_path);
    if (!read.ok()) return Fail(read.status().ToString());
    config = *std::move(read);
  }
  auto definitions = dataloader::server::ToDefinitions(config);
  if (!definitions.ok()) return Fail(definitions.status().ToString());
  std::vector<std::string> names;
  for (const auto& definition : *definitions) names.push_back(definition.name);

  auto runtime = dataloader::Runtime::Create({.num_threads = absl::GetFlag(FLAGS_threads)});
  if (!runtime.ok()) return Fail(runtime.status().ToString());
  if (absl::GetFlag(FLAGS_max_streams) < 1) {
    return Fail(absl::StrCat("--max_streams must be >= 1, got ", absl::GetFlag(FLAGS_max_streams)));
  }
  // Declared before the service, which reports to it, so that it outlives the service.
  std::unique_ptr<dataloader::server::ServerMetrics> metrics;
  if (const std::string metrics_address = absl::GetFlag(FLAGS_metrics_address);
      !metrics_address.empty()) {
    auto created = dataloader::server::ServerMetrics::Create({.listen_address = metrics_address});
    if (!created.ok()) return Fail(created.status().ToString());
    metrics = *std::move(created);
    std::printf("dataloader_server: metrics at http://%s:%d/metrics\n",
                metrics_address.substr(0, metrics_address.rfind(':')).c_str(), metrics->port());
  }
  auto service = dataloader::server::DataLoaderService::Create(
      *std::move(definitions), **runtime,
      {.max_streams = absl::GetFlag(FLAGS_max_streams), .metrics = metrics.get()});
  if (!service.ok()) return Fail(service.status().ToString());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string address = absl::GetFlag(FLAGS_address);
  builder.AddListeningPort(address, *credentials, &port);
  builder.RegisterService(service->get());
  builder.SetMaxSendMessageSize(-1);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Fail(absl::StrCat("cannot listen on ", address,
                             security.tls_cert_file.empty()
                                 ? ""
                                 : " (or gRPC rejected the TLS material: is --tls_key_file the "
                                   "key of --tls_cert_file?)"));
  }
  std::fprintf(stderr, "dataloader_server: security: %s\n",
               dataloader::server::DescribeServerSecurity(security, address).c_str());
  dataloader::server::MarkServingInHealthService(*server);
  const std::string host = address.substr(0, address.rfind(':'));
  std::printf("dataloader_server: serving %zu pipeline(s) [%s] on %s:%d with %d threads\n",
              names.size(), absl::StrJoin(names, ", ").c_str(), host.c_str(), port,
              (*runtime)->pool().num_threads());
  std::fflush(stdout);

  std::thread stopper([&] {
    int received = 0;
    sigwait(&signals, &received);
    std::fprintf(stderr, "dataloader_server: %s, shutting down (grace %ds)\n",
                 received == SIGTERM ? "SIGTERM" : "SIGINT",
                 absl::GetFlag(FLAGS_shutdown_grace_seconds));
    // Drain: NOT_SERVING first (load balancers and probes stop sending new streams), refuse
    // new streams, give running ones the grace period, then end the rest with UNAVAILABLE
    // so their clients resume elsewhere. gRPC's own Shutdown then only has idle calls left.
    server->GetHealthCheckService()->SetServingStatus(false);
    const int ended =
        (*service)->Drain(absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
    if (ended > 0) {
      std::fprintf(stderr,
                   "dataloader_server: drain deadline passed: ended %d stream(s) with "
                   "UNAVAILABLE\n",
                   ended);
    }
    // gRPC's Shutdown waits out its whole deadline even with no call left (seen with 1.51),
    // so the deadline is short: it only has to let in-flight unary calls answer.
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  });
  server->Wait();
  stopper.join();
  // Every stream has ended; release what we own in order (pipelines before their runtime).
  server.reset();
  service->reset();
  runtime->reset();
  std::fprintf(stderr, "dataloader_server: stopped\n");
  std::fflush(nullptr);
  // Skip the static teardown: grpc_shutdown (from ~ServerBuilder) joins gRPC's executor
  // thread, which can sit in a ~10 s timer wait while a client still holds its connection
  // open, and that would push the exit past Kubernetes' kill deadline. Nothing is left to
  // flush or release.
  std::_Exit(0);
}
