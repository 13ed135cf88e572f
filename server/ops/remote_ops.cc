// Copyright 2026 The dataloader Authors.
//
// Remote ops: read_url fetches a remote sample's object (Sample::path, a URL, through
// Sample::store) the way read_file reads a local file. It is natively asynchronous: it hands the
// request to the store's I/O thread and returns, so the stage's concurrency is the number of
// requests in flight and no pool thread waits on the network.
//
// Errors: a missing, refused or oversized object fails its sample (named in the error and in
// the server's log, counted against the failure budgets); a store that stopped answering after
// the retries (Unavailable) ends the stream with UNAVAILABLE (EndsPipeline): every later sample
// would fail the same way, and the client can resume elsewhere once it is back.
#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/stage_function.h"
#include "server/io/object_store.h"
#include "server/ops/op.h"

namespace dataloader::server {
namespace {

// Failed samples a stream logs before it only counts them (a dataset with many missing
// objects must not flood the log; the budget and the stage stats still count every one).
constexpr int64_t kLoggedFailuresPerStream = 20;

class ReadUrlOp final : public Op {
 public:
  ReadUrlOp(std::string tensor, int64_t max_bytes, std::optional<io::ByteRange> range)
      : tensor_(std::move(tensor)), max_bytes_(max_bytes), range_(range) {}

  bool IsAsync() const override { return true; }

  void Start(Sample sample, Completion<Sample> done, const TaskContext& context) const override {
    if (sample.store == nullptr) {
      done(absl::InvalidArgumentError(
          absl::StrCat(sample.Describe(),
                       ": read_url: the sample has no URL (read_url needs a url_list or "
                       "s3_prefix source)")));
      return;
    }
    // The sample lets go of the store before the request is queued: the callback, owned by
    // the store's I/O thread, must not keep the store alive.
    const std::shared_ptr<const io::ObjectStore> store = std::move(sample.store);
    const std::string url = sample.path;
    // The callback holds no pointer to the op: it may run after the stream let go of it.
    store->Read(url, {.range = range_, .max_bytes = max_bytes_, .cancel = context.token()},
                [tensor = tensor_, logged = logged_, sample = std::move(sample),
                 done = std::move(done)](absl::StatusOr<std::vector<uint8_t>> bytes) mutable {
                  if (!bytes.ok()) {
                    done(Failed(sample, bytes.status(), *logged));
                    return;
                  }
                  const int64_t size = static_cast<int64_t>(bytes->size());
                  sample.tensors.push_back({.name = std::move(tensor),
                                            .dtype = DType::kUint8,
                                            .shape = {size},
                                            .data = *std::move(bytes)});
                  done(std::move(sample));
                });
  }

 private:
  static absl::Status Failed(const Sample& sample, const absl::Status& error,
                             std::atomic<int64_t>& logged) {
    absl::Status named(error.code(),
                       absl::StrCat(sample.Describe(), ": read_url: ", error.message()));
    if (absl::IsCancelled(error)) return named;  // The stream is ending anyway.
    if (absl::IsUnavailable(error)) {
      std::fprintf(stderr, "read_url: the store is unavailable, ending the stream: %s\n",
                   std::string(named.message()).c_str());
      return EndsPipeline(std::move(named));
    }
    const int64_t count = logged.fetch_add(1, std::memory_order_relaxed);
    if (count < kLoggedFailuresPerStream) {
      std::fprintf(stderr, "read_url: sample %lld failed: %s\n",
                   static_cast<long long>(sample.index), named.ToString().c_str());
    } else if (count == kLoggedFailuresPerStream) {
      std::fprintf(stderr,
                   "read_url: more failed samples in this stream are counted, not logged\n");
    }
    return named;
  }

  const std::string tensor_;
  const int64_t max_bytes_;
  const std::optional<io::ByteRange> range_;
  // Failures logged; ops are made per stream, so this counts per stream.
  const std::shared_ptr<std::atomic<int64_t>> logged_ = std::make_shared<std::atomic<int64_t>>(0);
};

absl::Status ArgError(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("op 'read_url': ", what));
}

}  // namespace

void RegisterRemoteOps(OpRegistry& registry) {
  absl::Status status =
      registry.Register("read_url", [](OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
        absl::StatusOr<std::string> tensor = args.GetString("tensor", "encoded");
        absl::StatusOr<int64_t> max_bytes = args.GetInt("max_bytes", int64_t{256} << 20);
        absl::StatusOr<int64_t> offset = args.GetInt("offset", 0);
        absl::StatusOr<int64_t> length = args.GetInt("length", -1);
        for (const absl::Status& each :
             {tensor.status(), max_bytes.status(), offset.status(), length.status()}) {
          if (!each.ok()) return each;
        }
        if (!args.data_root().empty()) {
          return ArgError(
              "reads remote sources (url_list, s3_prefix); this pipeline's source is files: use "
              "read_file");
        }
        if (*max_bytes < 1)
          return ArgError(absl::StrCat("max_bytes must be >= 1, got ", *max_bytes));
        if (*offset < 0) return ArgError(absl::StrCat("offset must be >= 0, got ", *offset));
        if (*length == 0 || *length < -1) {
          return ArgError(absl::StrCat("length must be >= 1, or -1 for the rest, got ", *length));
        }
        std::optional<io::ByteRange> range;
        if (*offset > 0 || *length > 0) range = io::ByteRange{.offset = *offset, .length = *length};
        return std::make_unique<ReadUrlOp>(*tensor, *max_bytes, range);
      });
  if (!status.ok()) std::abort();  // Built-in names are unique: a clash is a bug here.
}

}  // namespace dataloader::server
