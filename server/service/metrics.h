// Copyright 2026 The dataloader Authors.
//
// ServerMetrics: the server's Prometheus metrics (prometheus-cpp), optionally served over HTTP
// at http://HOST:PORT/metrics. Per pipeline: streams started, finished (by status code) and
// active, batches and bytes sent, stream durations, and stall attribution (seconds streams
// spent waiting on the pipeline vs. on the client). Per pipeline and stage: tasks started,
// succeeded and failed, tasks in flight, queue occupancy and a task-time histogram, summed over
// the live streams' pipelines plus everything finished streams did (so counters never go back),
// and failed samples by reason (status code), as FailureLog reports them.
//
// The service reports each stream through a StreamMetrics (see DataLoaderService's
// ServiceOptions::metrics). Metric names and how to read stall attribution: README.md.
//
// Thread-safe. Must outlive the service that reports to it.
#ifndef SERVER_SERVICE_METRICS_H_
#define SERVER_SERVICE_METRICS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/pipeline_stats.h"

namespace prometheus {
class Counter;
class Exposer;
class Registry;
}  // namespace prometheus

namespace dataloader::server {

class StreamMetrics;

class ServerMetrics {
 public:
  struct Options {
    // HOST:PORT the HTTP endpoint listens on (e.g. "127.0.0.1:9464"; port 0 picks a free
    // one, see port()). Empty: no endpoint; the values are kept and Render() returns them.
    std::string listen_address;
  };

  // InvalidArgument/Unavailable naming the address if the endpoint cannot listen on it.
  static absl::StatusOr<std::unique_ptr<ServerMetrics>> Create(const Options& options);
  ~ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // The port the endpoint listens on; 0 without an endpoint.
  int port() const { return port_; }
  // Every metric in the Prometheus text exposition format, as a scrape of /metrics returns it.
  std::string Render() const;

  // A stream refused before it got a pipeline (unknown pipeline, too many streams, shutting
  // down, bad request). Counted by status code only: a refused request's pipeline name is
  // the client's, and would let clients make up label values.
  void StreamRefused(const absl::Status& status);
  // A stream that got its pipeline (`pipeline` is a served pipeline's name). `live_stats`
  // returns a snapshot of the stream's pipeline; scrapes call it, from any thread, until
  // StreamMetrics::End() returns, so it must stay callable until then.
  std::unique_ptr<StreamMetrics> StreamStarted(const std::string& pipeline,
                                               std::function<PipelineStats()> live_stats);
  // A sample of `pipeline` failed stage `stage` (the stage's label, as the stage metrics
  // name it) with `code`: dataloader_stage_sample_failures_total. FailureLog reports these.
  void SampleFailed(const std::string& pipeline, const std::string& stage, absl::StatusCode code);
  // Failure log lines the log's rate limit left out: dataloader_failure_log_lines_suppressed_total.
  void FailureLinesSuppressed(int64_t lines);

 private:
  friend class StreamMetrics;
  class Families;
  class StageCollector;

  ServerMetrics();

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
  std::shared_ptr<StageCollector> stages_;
  int port_ = 0;
  // Declared last, destroyed first: it scrapes registry_ and stages_ from its own threads.
  std::unique_ptr<prometheus::Exposer> exposer_;
};

// One stream's metrics, from StreamStarted() to End(). Stall attribution splits the stream's
// life into two kinds of wait, back to back:
//   waiting on the pipeline: from the stream's start, or from the end of its previous write,
//     until it takes its next batch from the pipeline (at once if the sink already holds one);
//   waiting on the client: from taking a batch until gRPC reports its write done, i.e. while
//     the batch is encoded and waits for the client to read it (HTTP/2 flow control) or for
//     the network.
// The time after the last write until End() counts as waiting on the pipeline (for its end
// status), or on the client if a write is still in flight. So the two sum to the stream's
// duration (less the few microseconds before StreamStarted). Each wait is added to its
// counter when it ends, so a scrape does not see a wait still under way.
//
// Thread-compatible: the caller serializes calls (the reactor makes them under its lock).
class StreamMetrics {
 public:
  // Calls End() with UNKNOWN if it was not called.
  ~StreamMetrics();
  StreamMetrics(const StreamMetrics&) = delete;
  StreamMetrics& operator=(const StreamMetrics&) = delete;

  // The stream took a batch from its pipeline and is about to write it.
  void BatchTaken();
  // The write of that batch completed (`ok`: it was sent, of `bytes` bytes).
  void WriteDone(bool ok, int64_t bytes);
  // The stream ended with `status`. Takes the pipeline's last stats and stops calling
  // `live_stats`. Once; later calls do nothing.
  void End(const absl::Status& status);

  // The stall attribution so far (for the stream's end log line).
  double seconds_waiting_on_pipeline() const { return waited_pipeline_; }
  double seconds_waiting_on_client() const { return waited_client_; }

 private:
  friend class ServerMetrics;
  using Clock = std::chrono::steady_clock;

  StreamMetrics(ServerMetrics& owner, std::string pipeline, uint64_t id);
  void CloseWait(Clock::time_point now);

  ServerMetrics& owner_;
  const std::string pipeline_;
  const uint64_t id_;  // The key of this stream's live stats in the stage collector.
  prometheus::Counter& batches_sent_;
  prometheus::Counter& bytes_sent_;
  prometheus::Counter& wait_pipeline_seconds_;
  prometheus::Counter& wait_client_seconds_;
  const Clock::time_point start_;
  Clock::time_point wait_start_;
  bool writing_ = false;  // A batch was taken and its write is not done: waiting on the client.
  double waited_pipeline_ = 0;
  double waited_client_ = 0;
  bool ended_ = false;
};

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_METRICS_H_
