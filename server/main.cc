// Copyright 2026 The dataloader Authors.
//
// dataloader_server: serves the pipelines of a config file (or the built-in default) over
// gRPC. Flags and environment become DataLoaderServerOptions; SIGTERM/SIGINT drain. See
// --help, and --list_ops for the ops a config may use.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/command_line.h"
#include "core/runtime.h"
#include "server/ops/builtin_ops.h"
#include "server/service/data_loader_server.h"
#include "server/service/malloc_tuning.h"
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
ABSL_FLAG(double, failure_log_per_second, 10,
          "Failed samples are logged on stderr, one line each (file, stage, error), at most this "
          "many lines per second after a burst of 20; the rest are counted in the metrics and "
          "in the next line (env DATALOADER_FAILURE_LOG_PER_SECOND). 0: no lines.");
ABSL_FLAG(bool, list_ops, false,
          "Print the ops a config's stages may use, with their arguments (type, default, "
          "meaning), and exit.");

namespace {

using dataloader::server::DataLoaderServer;
using dataloader::server::DataLoaderServerOptions;

// A server that cannot start was configured wrongly (flags, environment, config, files):
// the usage exit code.
int Fail(const std::string& message) {
  std::fprintf(stderr, "dataloader_server: %s\n", message.c_str());
  return dataloader::cli::kUsageExitCode;
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
      "         [--auth_token_file=FILE] [--allow_insecure]\n"
      "       dataloader_server --list_ops");
  if (!dataloader::cli::ApplyEnvironment(
          "dataloader_server", {{"address", "DATALOADER_ADDRESS"},
                                {"config", "DATALOADER_CONFIG"},
                                {"threads", "DATALOADER_THREADS"},
                                {"max_streams", "DATALOADER_MAX_STREAMS"},
                                {"shutdown_grace_seconds", "DATALOADER_SHUTDOWN_GRACE_SECONDS"},
                                {"metrics_address", "DATALOADER_METRICS_ADDRESS"},
                                {"tls_cert_file", "DATALOADER_TLS_CERT_FILE"},
                                {"tls_key_file", "DATALOADER_TLS_KEY_FILE"},
                                {"tls_client_ca_file", "DATALOADER_TLS_CLIENT_CA_FILE"},
                                {"auth_token_file", "DATALOADER_AUTH_TOKEN_FILE"},
                                {"allow_insecure", "DATALOADER_ALLOW_INSECURE"},
                                {"failure_log_per_second", "DATALOADER_FAILURE_LOG_PER_SECOND"}})) {
    return dataloader::cli::kUsageExitCode;
  }
  std::vector<char*> rest = dataloader::cli::ParseCommandLineOrExit(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "dataloader_server: unexpected argument '%s'\n", rest[1]);
    return dataloader::cli::kUsageExitCode;
  }

  // The ops configs may use: the built-in ones. A binary with ops of its own registers them
  // here too (examples/custom_op_server.cc).
  dataloader::server::OpRegistry ops;
  if (absl::Status status = dataloader::server::RegisterBuiltinOps(ops); !status.ok()) {
    return Fail(status.ToString());
  }
  if (absl::GetFlag(FLAGS_list_ops)) {
    std::printf("%s", ops.Catalogue().c_str());
    return 0;
  }
  dataloader::DisableMutexDeadlockDetection();
  dataloader::server::TuneMallocForBatches();

  DataLoaderServerOptions options{
      .address = absl::GetFlag(FLAGS_address),
      .ops = &ops,
      .threads = absl::GetFlag(FLAGS_threads),
      .max_streams = absl::GetFlag(FLAGS_max_streams),
      .security = {.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file),
                   .tls_key_file = absl::GetFlag(FLAGS_tls_key_file),
                   .tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file),
                   .auth_token_file = absl::GetFlag(FLAGS_auth_token_file),
                   .allow_insecure_remote = absl::GetFlag(FLAGS_allow_insecure)},
      .metrics_address = absl::GetFlag(FLAGS_metrics_address),
      .failure_log = {.lines_per_second = absl::GetFlag(FLAGS_failure_log_per_second)}};
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    absl::StatusOr<dataloader::v1::ServerConfig> config =
        dataloader::server::ReadServerConfig(path);
    if (!config.ok()) return Fail(config.status().ToString());
    options.config = *std::move(config);
  }
  absl::StatusOr<std::unique_ptr<DataLoaderServer>> server = DataLoaderServer::Start(options);
  if (!server.ok()) return Fail(server.status().ToString());

  const std::string host = options.address.substr(0, options.address.rfind(':'));
  std::fprintf(
      stderr, "dataloader_server: security: %s\n",
      dataloader::server::DescribeServerSecurity(options.security, options.address).c_str());
  if ((*server)->metrics_port() != 0) {
    const std::string metrics_host =
        options.metrics_address.substr(0, options.metrics_address.rfind(':'));
    std::printf("dataloader_server: metrics at http://%s:%d/metrics\n", metrics_host.c_str(),
                (*server)->metrics_port());
  }
  std::printf("dataloader_server: serving %zu pipeline(s) [%s] on %s:%d with %d threads\n",
              (*server)->pipeline_names().size(),
              absl::StrJoin((*server)->pipeline_names(), ", ").c_str(), host.c_str(),
              (*server)->port(), (*server)->threads());
  std::fflush(stdout);

  std::thread stopper([&] {
    int received = 0;
    sigwait(&signals, &received);
    const int grace = absl::GetFlag(FLAGS_shutdown_grace_seconds);
    std::fprintf(stderr, "dataloader_server: %s, shutting down (grace %ds)\n",
                 received == SIGTERM ? "SIGTERM" : "SIGINT", grace);
    const int ended = (*server)->Drain(absl::Now() + absl::Seconds(grace));
    if (ended > 0) {
      std::fprintf(stderr,
                   "dataloader_server: drain deadline passed: ended %d stream(s) with "
                   "UNAVAILABLE\n",
                   ended);
    }
  });
  (*server)->Wait();
  stopper.join();
  server->reset();  // Every stream has ended; pipelines before their runtime.
  std::fprintf(stderr, "dataloader_server: stopped\n");
  std::fflush(nullptr);
  // Skip the static teardown: grpc_shutdown (from ~ServerBuilder) joins gRPC's executor
  // thread, which can sit in a ~10 s timer wait while a client still holds its connection
  // open, and that would push the exit past Kubernetes' kill deadline. Nothing is left to
  // flush or release.
  std::_Exit(0);
}
