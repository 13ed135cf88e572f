// Copyright 2026 The dataloader Authors.

#include "server/service/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <exception>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/mutex.h"
#include "server/pipeline/failure_reporter.h"

namespace dataloader::server {
namespace {

double Seconds(std::chrono::steady_clock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

// Task-time histogram bounds: 10 µs (a cheap op) to 10 s (a stuck read).
const std::vector<absl::Duration>& TaskTimeBounds() {
  static const auto* const bounds = new std::vector<absl::Duration>{
      absl::Microseconds(10),  absl::Microseconds(25),  absl::Microseconds(50),
      absl::Microseconds(100), absl::Microseconds(250), absl::Microseconds(500),
      absl::Milliseconds(1),   absl::Milliseconds(2.5), absl::Milliseconds(5),
      absl::Milliseconds(10),  absl::Milliseconds(25),  absl::Milliseconds(50),
      absl::Milliseconds(100), absl::Milliseconds(250), absl::Milliseconds(500),
      absl::Seconds(1),        absl::Seconds(2.5),      absl::Seconds(10)};
  return *bounds;
}

prometheus::ClientMetric::Label Label(std::string name, std::string value) {
  return {std::move(name), std::move(value)};
}

}  // namespace

// The registry's metric families (each family is owned by the registry).
class ServerMetrics::Families {
 public:
  explicit Families(prometheus::Registry& registry)
      : streams_started(prometheus::BuildCounter()
                            .Name("dataloader_streams_started_total")
                            .Help("StreamBatches calls that got a pipeline and began streaming.")
                            .Register(registry)),
        streams_finished(
            prometheus::BuildCounter()
                .Name("dataloader_streams_finished_total")
                .Help("Streams that ended, by gRPC status code (OK: the whole shard or "
                      "max_batches was sent).")
                .Register(registry)),
        streams_refused(
            prometheus::BuildCounter()
                .Name("dataloader_streams_refused_total")
                .Help("StreamBatches calls refused before streaming (unknown pipeline, too many "
                      "streams, shutting down, invalid request), by gRPC status code.")
                .Register(registry)),
        streams_active(prometheus::BuildGauge()
                           .Name("dataloader_streams_active")
                           .Help("Streams being served now.")
                           .Register(registry)),
        batches_sent(prometheus::BuildCounter()
                         .Name("dataloader_batches_sent_total")
                         .Help("Batches whose write to the client completed.")
                         .Register(registry)),
        bytes_sent(prometheus::BuildCounter()
                       .Name("dataloader_bytes_sent_total")
                       .Help("Bytes of serialized dataloader.v1.Batch messages sent (before "
                             "gRPC framing and compression).")
                       .Register(registry)),
        stream_duration(prometheus::BuildHistogram()
                            .Name("dataloader_stream_duration_seconds")
                            .Help("How long streams lasted, from the call to its end.")
                            .Register(registry)),
        wait_pipeline(
            prometheus::BuildCounter()
                .Name("dataloader_stream_wait_pipeline_seconds_total")
                .Help("Stall attribution: seconds streams had no batch to write, waiting on the "
                      "pipeline (from a write's end, or the start, until the next batch was "
                      "taken). High against wait_client: the pipeline is the bottleneck.")
                .Register(registry)),
        wait_client(
            prometheus::BuildCounter()
                .Name("dataloader_stream_wait_client_seconds_total")
                .Help("Stall attribution: seconds streams had a batch and waited for its write to "
                      "complete (the client reading it, flow control, the network). High "
                      "against wait_pipeline: the client or network is the bottleneck.")
                .Register(registry)),
        sample_failures(
            prometheus::BuildCounter()
                .Name("dataloader_stage_sample_failures_total")
                .Help("Samples that failed a stage, by reason (the error's status code). Each "
                      "is named in the server's log (file, stage, error), rate-limited.")
                .Register(registry)),
        failure_lines_suppressed(
            prometheus::BuildCounter()
                .Name("dataloader_failure_log_lines_suppressed_total")
                .Help("Failed samples the log did not name because of its rate limit "
                      "(--failure_log_per_second); they are still counted by stage and reason.")
                .Register(registry)
                .Add({})) {}

  prometheus::Family<prometheus::Counter>& streams_started;
  prometheus::Family<prometheus::Counter>& streams_finished;
  prometheus::Family<prometheus::Counter>& streams_refused;
  prometheus::Family<prometheus::Gauge>& streams_active;
  prometheus::Family<prometheus::Counter>& batches_sent;
  prometheus::Family<prometheus::Counter>& bytes_sent;
  prometheus::Family<prometheus::Histogram>& stream_duration;
  prometheus::Family<prometheus::Counter>& wait_pipeline;
  prometheus::Family<prometheus::Counter>& wait_client;
  prometheus::Family<prometheus::Counter>& sample_failures;
  prometheus::Counter& failure_lines_suppressed;
};

// The per pipeline and stage metrics: collected at scrape time from the live streams'
// pipelines, plus the final stats of the streams that ended.
class ServerMetrics::StageCollector final : public prometheus::Collectable {
 public:
  void AddLive(uint64_t id, const std::string& pipeline, std::function<PipelineStats()> stats) {
    MutexLock lock(&mu_);
    live_.emplace(id, Live{pipeline, std::move(stats)});
  }

  // Folds the stream's final stats into the totals and forgets the stream, at once, so that
  // no scrape counts it twice or not at all.
  void EndLive(uint64_t id) {
    MutexLock lock(&mu_);
    auto live = live_.find(id);
    if (live == live_.end()) return;
    Add(live->second.pipeline, live->second.stats(), /*with_gauges=*/false, finished_);
    live_.erase(live);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    Totals totals;
    {
      MutexLock lock(&mu_);
      totals = finished_;
      for (const auto& [id, live] : live_) Add(live.pipeline, live.stats(), true, totals);
    }
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> families;
    auto family = [&](const char* name, const char* help, MetricType type, auto value) {
      if (totals.empty()) return;  // As the registry, which leaves out families with no series.
      prometheus::MetricFamily& f = families.emplace_back();
      f.name = name;
      f.help = help;
      f.type = type;
      for (const auto& [key, stage] : totals) {
        prometheus::ClientMetric& metric = f.metric.emplace_back();
        metric.label = {Label("pipeline", key.first), Label("stage", key.second)};
        value(stage, metric);
      }
    };
    family("dataloader_stage_tasks_started_total", "Tasks (source pulls, op calls) started.",
           MetricType::Counter,
           [](const Stage& s, auto& m) { m.counter.value = static_cast<double>(s.started); });
    family("dataloader_stage_tasks_succeeded_total", "Tasks that returned an output.",
           MetricType::Counter,
           [](const Stage& s, auto& m) { m.counter.value = static_cast<double>(s.succeeded); });
    family("dataloader_stage_tasks_failed_total",
           "Tasks that failed (their item is dropped and counted against max_failures).",
           MetricType::Counter,
           [](const Stage& s, auto& m) { m.counter.value = static_cast<double>(s.failed); });
    family("dataloader_stage_items_out_total",
           "Items the stage put into the queue after it (filters and fan-out differ from tasks).",
           MetricType::Counter,
           [](const Stage& s, auto& m) { m.counter.value = static_cast<double>(s.items_out); });
    family("dataloader_stage_tasks_in_flight", "Tasks running or scheduled now, live streams.",
           MetricType::Gauge,
           [](const Stage& s, auto& m) { m.gauge.value = static_cast<double>(s.in_flight); });
    family("dataloader_stage_queue_items",
           "Items in the queue after the stage now (the last stage's is the sink), live streams. "
           "Near capacity: the stages after it (or the client) are slower.",
           MetricType::Gauge,
           [](const Stage& s, auto& m) { m.gauge.value = static_cast<double>(s.queue_size); });
    family("dataloader_stage_queue_capacity",
           "Capacity of the queue after the stage, summed over live streams.", MetricType::Gauge,
           [](const Stage& s, auto& m) { m.gauge.value = static_cast<double>(s.queue_capacity); });
    family(
        "dataloader_stage_task_duration_seconds",
        "Task times (bucket bounds within ~3% of the stage's own finer histogram).",
        MetricType::Histogram, [](const Stage& s, auto& m) {
          m.histogram.sample_count = static_cast<uint64_t>(s.count);
          m.histogram.sample_sum = s.sum_seconds;
          const std::vector<absl::Duration>& bounds = TaskTimeBounds();
          for (size_t i = 0; i < bounds.size(); ++i) {
            m.histogram.bucket.push_back({.cumulative_count = static_cast<uint64_t>(s.buckets[i]),
                                          .upper_bound = absl::ToDoubleSeconds(bounds[i])});
          }
        });
    return families;
  }

 private:
  struct Stage {
    int64_t started = 0;
    int64_t succeeded = 0;
    int64_t failed = 0;
    int64_t items_out = 0;
    int64_t in_flight = 0;
    int64_t queue_size = 0;
    int64_t queue_capacity = 0;
    std::vector<int64_t> buckets = std::vector<int64_t>(TaskTimeBounds().size(), 0);
    int64_t count = 0;
    double sum_seconds = 0;
  };
  // Keyed by (pipeline, stage); std::map keeps the exposition in a stable order.
  using Totals = std::map<std::pair<std::string, std::string>, Stage>;
  struct Live {
    std::string pipeline;
    std::function<PipelineStats()> stats;
  };

  // Adds one pipeline's stats to `totals`. Gauges (in flight, queues) only for live streams:
  // an ended stream holds nothing.
  static void Add(const std::string& pipeline, const PipelineStats& stats, bool with_gauges,
                  Totals& totals) {
    // Two stages of one op and no names share a name: keep them apart by position (as the
    // failure reports do).
    std::vector<std::string> names;
    for (const StageStats& stage : stats.stages) names.push_back(stage.name);
    const std::vector<std::string> labels = UniqueStageLabels(names);
    for (size_t index = 0; index < stats.stages.size(); ++index) {
      const StageStats& stage = stats.stages[index];
      Stage& total = totals[{pipeline, labels[index]}];
      total.started += stage.tasks_started;
      total.succeeded += stage.tasks_succeeded;
      total.failed += stage.tasks_failed;
      total.items_out += stage.items_out;
      if (with_gauges) {
        total.in_flight += stage.tasks_in_flight;
        total.queue_size += stage.queue_size;
        total.queue_capacity += stage.queue_capacity;
      }
      const std::vector<int64_t> cumulative = stage.task_times.CumulativeCounts(TaskTimeBounds());
      for (size_t i = 0; i < cumulative.size(); ++i) total.buckets[i] += cumulative[i];
      total.count += stage.task_times.count();
      total.sum_seconds += absl::ToDoubleSeconds(stage.task_times.total());
    }
  }

  mutable Mutex mu_;
  // Lock order: mu_ before any pipeline's lock (taken by the live stats functions).
  std::map<uint64_t, Live> live_ ABSL_GUARDED_BY(mu_);
  Totals finished_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> next_id_{1};

  friend class ServerMetrics;
};

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(*registry_)),
      stages_(std::make_shared<StageCollector>()) {}

ServerMetrics::~ServerMetrics() = default;

absl::StatusOr<std::unique_ptr<ServerMetrics>> ServerMetrics::Create(const Options& options) {
  std::unique_ptr<ServerMetrics> metrics(new ServerMetrics());
  if (options.listen_address.empty()) return metrics;
  if (options.listen_address.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address must be HOST:PORT, got '", options.listen_address, "'"));
  }
  try {
    // Two threads: a slow scraper does not hold up another.
    metrics->exposer_ = std::make_unique<prometheus::Exposer>(options.listen_address, 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("metrics endpoint cannot listen on '",
                                               options.listen_address, "': ", e.what()));
  }
  metrics->exposer_->RegisterCollectable(metrics->registry_);
  metrics->exposer_->RegisterCollectable(metrics->stages_);
  const std::vector<int> ports = metrics->exposer_->GetListeningPorts();
  if (ports.empty() || ports.front() == 0) {
    return absl::UnavailableError(absl::StrCat("metrics endpoint on '", options.listen_address,
                                               "' reports no listening port"));
  }
  metrics->port_ = ports.front();
  return metrics;
}

std::string ServerMetrics::Render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> stages = stages_->Collect();
  families.insert(families.end(), std::make_move_iterator(stages.begin()),
                  std::make_move_iterator(stages.end()));
  return prometheus::TextSerializer().Serialize(families);
}

void ServerMetrics::StreamRefused(const absl::Status& status) {
  families_->streams_refused.Add({{"code", absl::StatusCodeToString(status.code())}}).Increment();
}

std::unique_ptr<StreamMetrics> ServerMetrics::StreamStarted(
    const std::string& pipeline, std::function<PipelineStats()> live_stats) {
  const uint64_t id = stages_->next_id_.fetch_add(1);
  stages_->AddLive(id, pipeline, std::move(live_stats));
  families_->streams_started.Add({{"pipeline", pipeline}}).Increment();
  families_->streams_active.Add({{"pipeline", pipeline}}).Increment();
  return std::unique_ptr<StreamMetrics>(new StreamMetrics(*this, pipeline, id));
}

void ServerMetrics::SampleFailed(const std::string& pipeline, const std::string& stage,
                                 absl::StatusCode code) {
  families_->sample_failures
      .Add({{"pipeline", pipeline}, {"stage", stage}, {"code", absl::StatusCodeToString(code)}})
      .Increment();
}

void ServerMetrics::FailureLinesSuppressed(int64_t lines) {
  families_->failure_lines_suppressed.Increment(static_cast<double>(lines));
}

StreamMetrics::StreamMetrics(ServerMetrics& owner, std::string pipeline, uint64_t id)
    : owner_(owner),
      pipeline_(std::move(pipeline)),
      id_(id),
      batches_sent_(owner.families_->batches_sent.Add({{"pipeline", pipeline_}})),
      bytes_sent_(owner.families_->bytes_sent.Add({{"pipeline", pipeline_}})),
      wait_pipeline_seconds_(owner.families_->wait_pipeline.Add({{"pipeline", pipeline_}})),
      wait_client_seconds_(owner.families_->wait_client.Add({{"pipeline", pipeline_}})),
      start_(Clock::now()),
      wait_start_(start_) {}

StreamMetrics::~StreamMetrics() {
  End(absl::UnknownError("stream metrics destroyed before the stream's end was reported"));
}

void StreamMetrics::CloseWait(Clock::time_point now) {
  const double seconds = Seconds(now - wait_start_);
  (writing_ ? wait_client_seconds_ : wait_pipeline_seconds_).Increment(seconds);
  (writing_ ? waited_client_ : waited_pipeline_) += seconds;
  wait_start_ = now;
}

void StreamMetrics::BatchTaken() {
  if (ended_) return;
  CloseWait(Clock::now());
  writing_ = true;
}

void StreamMetrics::WriteDone(bool ok, int64_t bytes) {
  if (ended_) return;
  CloseWait(Clock::now());
  writing_ = false;
  if (ok) {
    batches_sent_.Increment();
    bytes_sent_.Increment(static_cast<double>(bytes));
  }
}

void StreamMetrics::End(const absl::Status& status) {
  if (ended_) return;
  ended_ = true;
  const Clock::time_point now = Clock::now();
  CloseWait(now);
  ServerMetrics::Families& families = *owner_.families_;
  families.stream_duration
      .Add({{"pipeline", pipeline_}},
           prometheus::Histogram::BucketBoundaries{0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800,
                                                   3600, 4 * 3600})
      .Observe(Seconds(now - start_));
  families.streams_finished
      .Add({{"pipeline", pipeline_}, {"code", absl::StatusCodeToString(status.code())}})
      .Increment();
  families.streams_active.Add({{"pipeline", pipeline_}}).Decrement();
  owner_.stages_->EndLive(id_);
}

}  // namespace dataloader::server
