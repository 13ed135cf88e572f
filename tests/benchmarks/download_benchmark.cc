// Copyright 2026 The dataloader Authors.
//
// Remote reads that hold no thread: the read_url op (the server's, from the op registry) as a
// PipeAsync stage of concurrency 64 on a runtime with 2 pool threads, against TestHttpServer on
// 127.0.0.1 delaying every response by 10 ms. Ideal rate = 64 in flight / 10 ms = 6,400
// downloads/s; goal >= 0.9 of it.
//
//   BM_Download_ReadUrl/64        The op on the engine: URLs of a url_list dataset -> read_url
//                                 (PipeAsync, concurrency 64) -> sink. 1 KiB bodies.
//   BM_Download_StreamPipeline/64 The server's whole stream pipeline (plan, load, read_url of
//                                 concurrency 64, group, collate into batches of 64).
//   BM_Download_Blocking/64       For contrast: the same downloads made by a synchronous stage
//                                 that waits for each (ObjectStore::ReadAndWait), concurrency
//                                 64 on the same 2 threads: a stage that holds a thread per
//                                 request runs at most 2 at once, 200/s ideal.
//
// Counters: items_per_second and `efficiency` (rate / 6,400); `peak_in_flight`, the most
// download tasks in flight (the stage's stats, sampled every 5 ms) and `client_peak_in_flight`
// (HttpClient's own count); `connections` (new connections: keep-alive reuses them across
// iterations); and the pool probe: a task submitted to the runtime's pool every millisecond
// while the downloads run, whose wait for a thread (`probe_wait_p99_us`, `probe_wait_max_us`)
// would be ~10 ms if downloads held the pool's threads, and stays far below when they do not.
//
// Run: build/tests/benchmarks/download_benchmark
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "core/mutex.h"
#include "core/pipeline_builder.h"
#include "core/runtime.h"
#include "core/thread_pool.h"
#include "server/io/object_store.h"
#include "server/ops/op.h"
#include "server/pipeline/remote_dataset.h"
#include "server/pipeline/stream_pipeline.h"
#include "tests/server/io/test_http_server.h"
#include "tests/server/ops/test_ops.h"

namespace dataloader::server {
namespace {

using ::dataloader::server::testing::TestHttpServer;

constexpr absl::Duration kDelay = absl::Milliseconds(10);
constexpr int kDownloads = 12800;  // 2 s at the ideal rate.

// The server, store and dataset shared by every iteration (connections are kept alive).
struct Setup {
  std::unique_ptr<TestHttpServer> server;
  std::shared_ptr<io::ObjectStore> store;
  std::shared_ptr<RemoteDataset> dataset;
};

Setup& GetSetup() {
  static Setup* setup = [] {
    auto* made = new Setup();
    made->server = *TestHttpServer::Start([](const TestHttpServer::Request&) {
      return TestHttpServer::Response{.body = std::string(1024, 'x'), .delay = kDelay};
    });
    made->store = *io::ObjectStore::Create({});
    const std::string list = "/tmp/download_benchmark_urls.txt";
    {
      FILE* out = std::fopen(list.c_str(), "w");
      for (int i = 0; i < kDownloads; ++i) {
        std::fprintf(out, "%s\n", made->server->Url(absl::StrCat("/object/", i)).c_str());
      }
      std::fclose(out);
    }
    made->dataset = *RemoteDataset::FromUrlList(list, made->store);
    std::remove(list.c_str());
    return made;
  }();
  return *setup;
}

// Submits a no-op to the pool every millisecond and records how long each waited for a thread.
class PoolProbe {
 public:
  explicit PoolProbe(ThreadPool& pool) : queue_(pool.CreateQueue()) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        const absl::Time submitted = absl::Now();
        queue_->Submit([this, submitted] {
          const absl::Duration wait = absl::Now() - submitted;
          MutexLock lock(&mu_);
          waits_.push_back(wait);
        });
        absl::SleepFor(absl::Milliseconds(1));
      }
    });
  }
  // Stops probing; returns the waits, sorted.
  std::vector<absl::Duration> Finish() {
    stop_.store(true);
    thread_.join();
    absl::SleepFor(absl::Milliseconds(20));  // Lets the last probes run.
    queue_.reset();
    MutexLock lock(&mu_);
    std::sort(waits_.begin(), waits_.end());
    return waits_;
  }

 private:
  std::unique_ptr<ThreadPool::TaskQueue> queue_;
  std::atomic<bool> stop_{false};
  Mutex mu_;
  std::vector<absl::Duration> waits_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

void ReportProbe(benchmark::State& state, std::vector<absl::Duration> waits) {
  if (waits.empty()) return;
  state.counters["probe_wait_p50_us"] = absl::ToDoubleMicroseconds(waits[waits.size() / 2]);
  state.counters["probe_wait_p99_us"] =
      absl::ToDoubleMicroseconds(waits[std::min(waits.size() - 1, waits.size() * 99 / 100)]);
  state.counters["probe_wait_max_us"] = absl::ToDoubleMicroseconds(waits.back());
}

// Samples the download stage's tasks in flight through the stats callback.
struct PeakInFlight {
  std::atomic<int64_t> peak{0};
  void Record(const PipelineStats& stats, const std::string& stage) {
    for (const StageStats& each : stats.stages) {
      if (each.name != stage) continue;
      int64_t seen = peak.load();
      while (each.tasks_in_flight > seen &&
             !peak.compare_exchange_weak(seen, each.tasks_in_flight)) {
      }
    }
  }
};

// The test server's counters, to report one case's share (deltas).
struct ServerCounters {
  int64_t requests = 0;
  int64_t turnarounds = 0;
  absl::Duration turnaround;
  absl::Duration timer_late;
};

ServerCounters ReadServerCounters() {
  const TestHttpServer& server = *GetSetup().server;
  return {server.requests(), server.turnarounds(), server.turnaround(), server.timer_late()};
}

// CPU time of the whole process (every thread: the test server's too) so far.
absl::Duration ProcessCpu() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) + absl::DurationFromTimeval(usage.ru_stime);
}

// `seconds`: the timed part of every iteration together; `ideal`: downloads/s.
void Finish(benchmark::State& state, int64_t items, double seconds, double ideal, int64_t peak,
            const io::HttpClientStats& before, const io::HttpClientStats& after, absl::Duration cpu,
            const ServerCounters& server_before) {
  // Process CPU per download, client and test server together: what the machine pays per
  // request whatever else runs on it.
  state.counters["cpu_us_per_download"] =
      absl::ToDoubleMicroseconds(cpu) / static_cast<double>(std::max<int64_t>(items, 1));
  state.counters["items_per_second"] =
      benchmark::Counter(static_cast<double>(items), benchmark::Counter::kIsRate);
  state.counters["ideal_items_per_second"] = ideal;
  state.counters["efficiency"] = static_cast<double>(items) / seconds / ideal;
  state.counters["peak_in_flight"] = static_cast<double>(peak);
  state.counters["client_peak_in_flight"] = static_cast<double>(after.peak_in_flight);
  state.counters["connections"] =
      static_cast<double>(after.connections_opened - before.connections_opened);
  // Per request-response cycle of this case, on average.
  const ServerCounters now = ReadServerCounters();
  if (now.turnarounds > server_before.turnarounds) {
    state.counters["client_turnaround_us"] =
        absl::ToDoubleMicroseconds(now.turnaround - server_before.turnaround) /
        static_cast<double>(now.turnarounds - server_before.turnarounds);
  }
  if (now.requests > server_before.requests) {
    state.counters["server_timer_late_us"] =
        absl::ToDoubleMicroseconds(now.timer_late - server_before.timer_late) /
        static_cast<double>(now.requests - server_before.requests);
  }
}

// The HttpClient alone: `concurrency` request chains, each callback issuing the next request
// of its chain on the I/O thread. The client's own ceiling, without the pipeline.
struct Chains {
  Setup* setup = nullptr;
  int64_t total = 0;
  Mutex mu;
  int64_t next ABSL_GUARDED_BY(mu) = 0;
  int64_t done ABSL_GUARDED_BY(mu) = 0;
};

// Issues the chain's next request, if any; its callback issues the one after.
void IssueNext(const std::shared_ptr<Chains>& chains) {
  int64_t index;
  {
    MutexLock lock(&chains->mu);
    if (chains->next >= chains->total) return;
    index = chains->next++;
  }
  chains->setup->store->http().Fetch(
      {.url = chains->setup->dataset->url(index)},
      [chains](absl::StatusOr<io::HttpResponse> response) {
        IssueNext(chains);  // First: once `done` reaches the total, no request is left to make.
        MutexLock lock(&chains->mu);
        if (response.ok() && response->status == 200) ++chains->done;
      });
}

void BM_Download_HttpClient(benchmark::State& state) {
  Setup& setup = GetSetup();
  const int concurrency = static_cast<int>(state.range(0));
  const int64_t downloads = std::min(kDownloads, 200 * concurrency);  // 2 s at the ideal rate.
  const io::HttpClientStats before = setup.store->http().Stats();
  const absl::Duration cpu_before = ProcessCpu();
  const ServerCounters server_before = ReadServerCounters();
  int64_t items = 0;
  double seconds = 0;
  for (auto _ : state) {
    auto chains = std::make_shared<Chains>();
    chains->setup = &setup;
    chains->total = downloads;
    const absl::Time started = absl::Now();
    for (int i = 0; i < concurrency; ++i) IssueNext(chains);
    MutexLock lock(&chains->mu);
    chains->mu.Await(absl::Condition(
        +[](Chains* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu) { return c->done >= c->total; },
        chains.get()));
    seconds += absl::ToDoubleSeconds(absl::Now() - started);
    items += chains->done;
  }
  Finish(state, items, seconds, concurrency / absl::ToDoubleSeconds(kDelay), 0, before,
         setup.store->http().Stats(), ProcessCpu() - cpu_before, server_before);
}
BENCHMARK(BM_Download_HttpClient)
    ->Arg(1)
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

void BM_Download_ReadUrl(benchmark::State& state) {
  Setup& setup = GetSetup();
  const int concurrency = static_cast<int>(state.range(0));
  absl::StatusOr<std::unique_ptr<Op>> op = dataloader::testing::BuiltinOps().Create("read_url", {});
  if (!op.ok()) {
    state.SkipWithError(std::string(op.status().message()).c_str());
    return;
  }
  std::shared_ptr<const Op> read_url = *std::move(op);
  std::unique_ptr<Runtime> runtime = *Runtime::Create({.num_threads = 2});
  const io::HttpClientStats before = setup.store->http().Stats();
  const absl::Duration cpu_before = ProcessCpu();
  const ServerCounters server_before = ReadServerCounters();
  int64_t items = 0;
  double seconds = 0;
  PeakInFlight peak;
  std::vector<absl::Duration> waits;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<int64_t> indices(kDownloads);
    for (int i = 0; i < kDownloads; ++i) indices[i] = i;
    auto pipeline =
        PipelineBuilder<>()
            .AddSource(std::move(indices))
            .Pipe([dataset = setup.dataset](int64_t i) { return *dataset->Load(i, 0); },
                  {.concurrency = 1, .name = "load"})
            .PipeAsync(
                [read_url](Sample sample, Completion<Sample> done, const TaskContext& context) {
                  read_url->Start(std::move(sample), std::move(done), context);
                },
                {.concurrency = concurrency, .name = "read_url"})
            .AddSink(64)
            .Build({.runtime = runtime.get(),
                    .stats_callback =
                        [&peak](const PipelineStats& stats) { peak.Record(stats, "read_url"); },
                    .stats_interval = absl::Milliseconds(5)});
    PoolProbe probe(runtime->pool());
    state.ResumeTiming();
    const absl::Time started = absl::Now();
    int64_t got = 0, bytes = 0;
    for (;;) {
      absl::StatusOr<Sample> sample = (*pipeline)->Next();
      if (!sample.ok()) {
        if (!absl::IsOutOfRange(sample.status())) {
          state.SkipWithError(sample.status().ToString().c_str());
        }
        break;
      }
      ++got;
      bytes += static_cast<int64_t>(sample->tensors.back().data.size());
    }
    seconds += absl::ToDoubleSeconds(absl::Now() - started);
    state.PauseTiming();
    std::vector<absl::Duration> these = probe.Finish();
    waits.insert(waits.end(), these.begin(), these.end());
    if (got != kDownloads || bytes != int64_t{kDownloads} * 1024) {
      state.SkipWithError(absl::StrCat("expected ", kDownloads, " downloads of 1 KiB, got ", got,
                                       " with ", bytes, " bytes")
                              .c_str());
    }
    items += got;
    pipeline->reset();
    state.ResumeTiming();
  }
  Finish(state, items, seconds, concurrency / absl::ToDoubleSeconds(kDelay), peak.peak.load(),
         before, setup.store->http().Stats(), ProcessCpu() - cpu_before, server_before);
  std::sort(waits.begin(), waits.end());
  ReportProbe(state, std::move(waits));
}
BENCHMARK(BM_Download_ReadUrl)
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

void BM_Download_StreamPipeline(benchmark::State& state) {
  Setup& setup = GetSetup();
  const int concurrency = static_cast<int>(state.range(0));
  std::unique_ptr<Runtime> runtime = *Runtime::Create({.num_threads = 2});
  const PipelineDefinition definition{
      .name = "downloads",
      .dataset = setup.dataset,
      .stages = {{.op = "read_url", .concurrency = concurrency}},
      .batch_size = 64,
      .load_concurrency = 2,
  };
  const io::HttpClientStats before = setup.store->http().Stats();
  const absl::Duration cpu_before = ProcessCpu();
  const ServerCounters server_before = ReadServerCounters();
  int64_t items = 0;
  double seconds = 0;
  std::vector<absl::Duration> waits;
  for (auto _ : state) {
    state.PauseTiming();
    auto pipeline =
        BuildStreamPipeline(definition, {}, *runtime, dataloader::testing::BuiltinOps());
    if (!pipeline.ok()) {
      state.SkipWithError(pipeline.status().ToString().c_str());
      break;
    }
    PoolProbe probe(runtime->pool());
    state.ResumeTiming();
    const absl::Time started = absl::Now();
    int64_t got = 0;
    for (;;) {
      absl::StatusOr<CollatedBatch> batch = (*pipeline)->Next();
      if (!batch.ok()) {
        if (!absl::IsOutOfRange(batch.status())) {
          state.SkipWithError(batch.status().ToString().c_str());
        }
        break;
      }
      got += static_cast<int64_t>(batch->sample_ids.size());
    }
    seconds += absl::ToDoubleSeconds(absl::Now() - started);
    state.PauseTiming();
    std::vector<absl::Duration> these = probe.Finish();
    waits.insert(waits.end(), these.begin(), these.end());
    if (got != kDownloads) state.SkipWithError("not every download arrived");
    items += got;
    pipeline->reset();
    state.ResumeTiming();
  }
  Finish(state, items, seconds, concurrency / absl::ToDoubleSeconds(kDelay), 0, before,
         setup.store->http().Stats(), ProcessCpu() - cpu_before, server_before);
  std::sort(waits.begin(), waits.end());
  ReportProbe(state, std::move(waits));
}
BENCHMARK(BM_Download_StreamPipeline)
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

void BM_Download_Blocking(benchmark::State& state) {
  Setup& setup = GetSetup();
  const int concurrency = static_cast<int>(state.range(0));
  constexpr int kBlockingDownloads = 400;  // 2 s at the 200/s a 2-thread pool allows.
  std::unique_ptr<Runtime> runtime = *Runtime::Create({.num_threads = 2});
  // Its own store, so that its client's peak in flight is this case's.
  std::shared_ptr<io::ObjectStore> store = *io::ObjectStore::Create({});
  const io::HttpClientStats before = store->http().Stats();
  const absl::Duration cpu_before = ProcessCpu();
  const ServerCounters server_before = ReadServerCounters();
  int64_t items = 0;
  double seconds = 0;
  PeakInFlight peak;
  for (auto _ : state) {
    const absl::Time started = absl::Now();
    std::vector<int64_t> indices(kBlockingDownloads);
    for (int i = 0; i < kBlockingDownloads; ++i) indices[i] = i;
    auto pipeline =
        PipelineBuilder<>()
            .AddSource(std::move(indices))
            .Pipe(
                [&setup, &store](int64_t i) {
                  return store->ReadAndWait(setup.dataset->url(i), {}).ok() ? 1 : 0;
                },
                {.concurrency = concurrency, .name = "blocking"})
            .AddSink(64)
            .Build({.runtime = runtime.get(),
                    .stats_callback =
                        [&peak](const PipelineStats& stats) { peak.Record(stats, "blocking"); },
                    .stats_interval = absl::Milliseconds(5)});
    int64_t got = 0;
    for (;;) {
      absl::StatusOr<int> ok = (*pipeline)->Next();
      if (!ok.ok()) break;
      got += *ok;
    }
    seconds += absl::ToDoubleSeconds(absl::Now() - started);
    items += got;
  }
  // Measured against the same 6,400/s; a blocking stage's own ceiling is 2 / 10 ms = 200/s.
  Finish(state, items, seconds, concurrency / absl::ToDoubleSeconds(kDelay), peak.peak.load(),
         before, store->http().Stats(), ProcessCpu() - cpu_before, server_before);
}
BENCHMARK(BM_Download_Blocking)
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
}  // namespace dataloader::server

int main(int argc, char** argv) {
  // As dataloader_server does: Debian's Abseil otherwise keeps a global lock graph.
  dataloader::DisableMutexDeadlockDetection();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
