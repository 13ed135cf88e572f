// Copyright 2026 The dataloader Authors.
//
// DataLoaderServer: the whole server, embeddable. It loads the pipelines of a config with an
// op registry (the built-in ops, or a caller's with its own ops added), probes them, and
// serves dataloader.v1.DataLoader over gRPC with TLS/mTLS and bearer tokens as configured,
// the standard health service, server reflection and, optionally, a Prometheus endpoint.
// dataloader_server's main() only turns flags and environment into these options and handles
// signals; a binary with its own ops does the same (examples/custom_op_server.cc).
//
//   OpRegistry ops;
//   RegisterBuiltinOps(ops);
//   ops.Register(MyOpSpec());
//   absl::StatusOr<std::unique_ptr<DataLoaderServer>> server = DataLoaderServer::Start(
//       {.address = "0.0.0.0:50051", .config = *ReadServerConfig(path), .ops = &ops,
//        .security = {.tls_cert_file = "server.pem", .tls_key_file = "server.key"}});
//   ...                                          // on SIGTERM, from another thread:
//   (*server)->Drain(absl::Now() + absl::Seconds(10));
//   (*server)->Wait();                           // returns once drained
//
// Thread-safe.
#ifndef SERVER_SERVICE_DATA_LOADER_SERVER_H_
#define SERVER_SERVICE_DATA_LOADER_SERVER_H_

#include <grpcpp/server.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/mutex.h"
#include "core/runtime.h"
#include "dataloader/v1/pipeline_config.pb.h"
#include "server/ops/op_registry.h"
#include "server/service/data_loader_service.h"
#include "server/service/failure_log.h"
#include "server/service/metrics.h"
#include "server/service/server_config.h"
#include "server/service/server_security.h"

namespace dataloader::server {

struct DataLoaderServerOptions {
  // HOST:PORT to listen on. Port 0 picks a free port (see port()). Default 127.0.0.1:50051.
  std::string address = "127.0.0.1:50051";
  // The pipelines to serve (see proto/dataloader/v1/pipeline_config.proto). Default: the
  // built-in 'synthetic' pipeline.
  v1::ServerConfig config = DefaultServerConfig();
  // The ops the config's stages may name; must outlive the server. Null: the built-in ops
  // (RegisterBuiltinOps).
  const OpRegistry* ops = nullptr;
  // Threads of the pool every stream's pipeline runs on; 0: one per core. At most
  // kMaxThreads (core/pipeline_options.h).
  int threads = 0;
  // Streams served at once; more get RESOURCE_EXHAUSTED. Default 64, >= 1.
  int max_streams = 64;
  // TLS, mutual TLS, bearer token; plaintext only on loopback unless allowed (see
  // server_security.h). Default: plaintext, loopback only.
  ServerSecurityOptions security = {};
  // HOST:PORT of a Prometheus endpoint (http://HOST:PORT/metrics; port 0 picks one). Empty
  // (default): no endpoint.
  std::string metrics_address = {};
  // One log line per stream start and end on stderr. Default true.
  bool log_streams = true;
  // Failed samples: one line each on stderr (file, stage, error), rate-limited to
  // failure_log.lines_per_second (default 10, after a burst of 20), and counted in the metrics
  // by stage and reason. See failure_log.h.
  FailureLogOptions failure_log = {};
};

class DataLoaderServer {
 public:
  // Starts serving, or fails with what is wrong: the options (InvalidArgument naming the
  // option), the security files (FailedPrecondition naming the file), the config (naming the
  // pipeline and field), a pipeline that cannot serve (its probe's error), or the address
  // (Unavailable naming it).
  static absl::StatusOr<std::unique_ptr<DataLoaderServer>> Start(DataLoaderServerOptions options);
  // Shuts down at once if not drained: running streams end with UNAVAILABLE.
  ~DataLoaderServer();
  DataLoaderServer(const DataLoaderServer&) = delete;
  DataLoaderServer& operator=(const DataLoaderServer&) = delete;

  // The port it listens on (the chosen one for port 0).
  int port() const { return port_; }
  // The Prometheus endpoint's port; 0 without one.
  int metrics_port() const { return metrics_->port(); }
  int threads() const { return runtime_->pool().num_threads(); }
  std::vector<std::string> pipeline_names() const { return pipeline_names_; }

  // Graceful shutdown (dataloader_server calls it on SIGTERM): health turns NOT_SERVING (load
  // balancers and probes stop sending streams), new streams are refused with UNAVAILABLE,
  // running ones may finish until `deadline`, the rest then end with UNAVAILABLE so their
  // clients resume elsewhere; then the server stops listening. Returns the number of streams
  // ended at the deadline. Drain(absl::Now()) is an immediate shutdown. Idempotent.
  int Drain(absl::Time deadline);
  // Blocks until the server has stopped (after Drain(), from another thread).
  void Wait();

  DataLoaderService& service() { return *service_; }

 private:
  DataLoaderServer() = default;

  // Destroyed in reverse order: the gRPC server first (no call left), then the service (its
  // streams torn down), the metrics it reported to, the runtime the pipelines ran on, and
  // the registry their ops came from.
  std::unique_ptr<OpRegistry> own_ops_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<DataLoaderService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::vector<std::string> pipeline_names_;

  Mutex drain_mu_;  // Serializes Drain() calls.
  bool drained_ ABSL_GUARDED_BY(drain_mu_) = false;
  int ended_by_drain_ ABSL_GUARDED_BY(drain_mu_) = 0;
};

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_DATA_LOADER_SERVER_H_
