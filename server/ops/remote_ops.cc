// Copyright 2026 The dataloader Authors.
//
// Remote ops: read_url fetches a remote sample's object (Sample::path, a URL, through
// Sample::store) the way read_file reads a local file. It is natively asynchronous: it hands the
// request to the store's I/O thread and returns, so the stage's concurrency is the number of
// requests in flight and no pool thread waits on the network.
//
// Errors: a missing, refused or oversized object fails its sample (named in the error, which
// the server's failure log reports, and counted against the failure budgets); a store that stopped
// answering after the retries (Unavailable) ends the stream with UNAVAILABLE (EndsPipeline): every
// later sample would fail the same way, and the client can resume elsewhere once it is back.
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/stage_function.h"
#include "server/io/object_store.h"
#include "server/ops/builtin_ops.h"
#include "server/ops/op.h"

namespace dataloader::server {
namespace {

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
                [tensor = tensor_, sample = std::move(sample),
                 done = std::move(done)](absl::StatusOr<std::vector<uint8_t>> bytes) mutable {
                  if (!bytes.ok()) {
                    done(Failed(sample, bytes.status()));
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
  // The error named after the sample. A store that stopped answering ends the stream: every
  // later sample would fail the same way (the failure log reports it like any other).
  static absl::Status Failed(const Sample& sample, const absl::Status& error) {
    absl::Status named(error.code(),
                       absl::StrCat(sample.Describe(), ": read_url: ", error.message()));
    if (absl::IsUnavailable(error)) return EndsPipeline(std::move(named));
    return named;
  }

  const std::string tensor_;
  const int64_t max_bytes_;
  const std::optional<io::ByteRange> range_;
};

}  // namespace

absl::Status RegisterRemoteOps(OpRegistry& registry) {
  return registry.Register(
      {.name = "read_url",
       .summary = "Fetches the sample's object (its URL, over HTTP(S) or S3) into a uint8 "
                  "[bytes] tensor without holding a thread. Needs a remote source (url_list, "
                  "s3_prefix).",
       .args = {{.name = "tensor", .default_value = "encoded", .help = "the output tensor"},
                {.name = "max_bytes",
                 .type = ArgType::kInt,
                 .default_value = "268435456",
                 .min = 1,
                 .help = "larger objects fail their sample (checked from the response headers)"},
                {.name = "offset",
                 .type = ArgType::kInt,
                 .default_value = "0",
                 .min = 0,
                 .help = "first byte to read (a ranged GET)"},
                {.name = "length",
                 .type = ArgType::kInt,
                 .default_value = "-1",
                 .min = -1,
                 .help = "bytes to read from offset; -1: to the end"}},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         if (!args.data_root().empty()) {
           return args.Error(
               "reads remote sources (url_list, s3_prefix); this pipeline's source is files: "
               "use read_file");
         }
         const int64_t offset = args.Int("offset");
         const int64_t length = args.Int("length");
         if (length == 0) return args.Error("length must be >= 1, or -1 for the rest, got 0");
         std::optional<io::ByteRange> range;
         if (offset > 0 || length > 0) range = io::ByteRange{.offset = offset, .length = length};
         return std::make_unique<ReadUrlOp>(args.String("tensor"), args.Int("max_bytes"), range);
       }});
}

}  // namespace dataloader::server
