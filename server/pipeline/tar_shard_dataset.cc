// Copyright 2026 The dataloader Authors.

#include "server/pipeline/tar_shard_dataset.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/pipeline/epoch_plan.h"
#include "server/pipeline/fingerprint.h"
#include "server/pipeline/sample_random.h"

namespace dataloader::server {
namespace {

// Salts that keep the shard order's and the shuffle buffer's draws apart from each other and
// from the ops' per-sample randomness.
constexpr uint64_t kShardOrderSalt = 0x7461725F6F726465u;  // "tar_orde"
constexpr uint64_t kBufferSalt = 0x7461725F62756666u;      // "tar_buff"

bool IsUrl(absl::string_view location) { return absl::StrContains(location, "://"); }

class TarShardStream final : public SampleStream {
 public:
  TarShardStream(const TarShardDataset& dataset, const SequentialStreamRequest& request,
                 std::shared_ptr<TarShardStreamStats> stats)
      : dataset_(dataset),
        stats_(stats != nullptr ? std::move(stats) : std::make_shared<TarShardStreamStats>()),
        order_(dataset.ShardOrder(request.seed, request.epoch, request.shuffle)) {
    const int64_t per_stream = dataset.SamplesPerStream(request.shard_count);
    slice_begin_ = request.shard_index * per_stream;
    slice_end_ = slice_begin_ + per_stream;
    int64_t start = 0;
    for (int64_t shard : order_) {
      sequence_start_.push_back(start);
      start += dataset.manifest().shards[static_cast<size_t>(shard)].samples;
    }
    std::vector<int64_t> order = dataset.EmitOrder(request);
    emit_.assign(order.begin() + request.first_sample, order.begin() + request.end_sample);
    needed_.assign(static_cast<size_t>(per_stream), false);
    read_position_ = per_stream;
    for (int64_t position : emit_) {
      needed_[static_cast<size_t>(position)] = true;
      read_position_ = std::min(read_position_, position);
    }
  }

  absl::StatusOr<std::optional<SequentialItem>> Next() override {
    if (next_emit_ >= emit_.size()) return std::nullopt;
    const int64_t target = emit_[next_emit_++];
    auto it = buffer_.find(target);
    while (it == buffer_.end()) {
      const int64_t position = read_position_++;
      if (needed_[static_cast<size_t>(position)]) {
        auto added = buffer_.emplace(position, Read(position, /*with_data=*/true)).first;
        if (position == target) it = added;
        stats_->max_buffered = std::max(stats_->max_buffered, static_cast<int64_t>(buffer_.size()));
        ++stats_->samples_read;
      } else {
        Read(position, /*with_data=*/false);
        ++stats_->samples_skipped;
      }
    }
    SequentialItem item = std::move(it->second);
    buffer_.erase(it);
    return item;
  }

 private:
  // Reads slice position `position`, the next one in the slice's order.
  SequentialItem Read(int64_t position, bool with_data) {
    const int64_t global = slice_begin_ + position;
    while (current_ + 1 < static_cast<int64_t>(order_.size()) &&
           global >= sequence_start_[static_cast<size_t>(current_ + 1)]) {
      ++current_;
      reader_.reset();
      shard_error_ = absl::OkStatus();
      opened_ = false;
    }
    const int64_t shard = order_[static_cast<size_t>(current_)];
    const ShardEntry& entry = dataset_.manifest().shards[static_cast<size_t>(shard)];
    const int64_t in_shard = global - sequence_start_[static_cast<size_t>(current_)];
    SequentialItem item;
    item.index = dataset_.FirstSampleId(shard) + in_shard;
    if (!opened_) Open();
    // Samples of the shard before this one (another stream's, or delivered before a resume).
    while (shard_error_.ok() && next_in_shard_ < in_shard) {
      Advance(entry, false);
      ++stats_->samples_skipped;
    }
    if (!shard_error_.ok()) {
      item.sample = absl::Status(shard_error_.code(),
                                 absl::StrCat("sample ", in_shard, " of ", shard_error_.message()));
      ++next_in_shard_;
      return item;
    }
    std::optional<ShardSample> read = Advance(entry, with_data);
    if (!read.has_value()) {
      item.sample = absl::Status(shard_error_.code(),
                                 absl::StrCat("sample ", in_shard, " of ", shard_error_.message()));
      return item;
    }
    if (!read->status.ok()) {
      item.sample = read->status;
      return item;
    }
    Sample sample;
    sample.index = item.index;
    sample.path = absl::StrCat(entry.file, ":", read->key);
    Tensor& label = sample.tensors.emplace_back();
    label.name = "label";
    label.dtype = DType::kInt64;
    label.data.resize(sizeof read->label);
    std::memcpy(label.data.data(), &read->label, sizeof read->label);
    Tensor& encoded = sample.tensors.emplace_back();
    encoded.name = "encoded";
    encoded.dtype = DType::kUint8;
    encoded.shape = {static_cast<int64_t>(read->encoded.size())};
    encoded.data = std::move(read->encoded);
    item.sample = std::move(sample);
    return item;
  }

  // The reader's next sample; nullopt (with shard_error_ set) when the shard cannot give it.
  std::optional<ShardSample> Advance(const ShardEntry& entry, bool with_data) {
    ++next_in_shard_;
    absl::StatusOr<std::optional<ShardSample>> next = reader_->Next(with_data);
    if (!next.ok()) {
      shard_error_ = next.status();
      return std::nullopt;
    }
    if (!next->has_value()) {
      shard_error_ = absl::DataLossError(
          absl::StrCat("shard '", entry.file, "': it holds only ", next_in_shard_ - 1,
                       " samples, the manifest says ", entry.samples));
      return std::nullopt;
    }
    return std::move(*next);
  }

  void Open() {
    opened_ = true;
    next_in_shard_ = 0;
    absl::StatusOr<std::unique_ptr<ShardByteSource>> bytes = Bytes(current_);
    const std::string& file =
        dataset_.manifest().shards[static_cast<size_t>(order_[static_cast<size_t>(current_)])].file;
    if (!bytes.ok()) {
      shard_error_ = absl::Status(bytes.status().code(),
                                  absl::StrCat("shard '", file, "': ", bytes.status().message()));
      return;
    }
    reader_ = std::make_unique<TarSampleReader>(*std::move(bytes), file);
    // Over the network, the next shard's first ranges are requested now, so that moving on to
    // it does not wait a round trip.
    if (current_ + 1 < static_cast<int64_t>(order_.size()) &&
        sequence_start_[static_cast<size_t>(current_ + 1)] < slice_end_ &&
        IsUrl(dataset_.ShardLocation(order_[static_cast<size_t>(current_ + 1)]))) {
      prefetched_ = Bytes(current_ + 1);
      prefetched_for_ = current_ + 1;
    }
  }

  absl::StatusOr<std::unique_ptr<ShardByteSource>> Bytes(int64_t ordinal) {
    if (prefetched_for_ == ordinal) {
      prefetched_for_ = -1;
      return std::move(prefetched_);
    }
    const int64_t shard = order_[static_cast<size_t>(ordinal)];
    const std::string location = dataset_.ShardLocation(shard);
    if (!IsUrl(location)) return OpenLocalShard(location);
    return OpenRemoteShard(dataset_.options().store, location,
                           dataset_.manifest().shards[static_cast<size_t>(shard)].bytes,
                           dataset_.options().remote);
  }

  const TarShardDataset& dataset_;
  const std::shared_ptr<TarShardStreamStats> stats_;
  const std::vector<int64_t> order_;     // Shard indices in this epoch's order.
  std::vector<int64_t> sequence_start_;  // Position of each ordinal's first sample.
  int64_t slice_begin_ = 0;              // The stream's slice of the epoch's sequence.
  int64_t slice_end_ = 0;
  std::vector<int64_t> emit_;  // Slice positions still to emit, in order.
  size_t next_emit_ = 0;
  std::vector<bool> needed_;                            // Slice positions in emit_.
  int64_t read_position_ = 0;                           // Next slice position to read.
  std::unordered_map<int64_t, SequentialItem> buffer_;  // Read, not yet emitted.

  int64_t current_ = 0;  // Ordinal (in order_) of the shard being read.
  bool opened_ = false;
  std::unique_ptr<TarSampleReader> reader_;
  int64_t next_in_shard_ = 0;
  absl::Status shard_error_;  // Fails the rest of the current shard's samples.
  absl::StatusOr<std::unique_ptr<ShardByteSource>> prefetched_;
  int64_t prefetched_for_ = -1;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TarShardDataset>> TarShardDataset::Open(TarShardOptions options) {
  std::string text;
  const std::string& manifest = options.manifest;
  if (manifest.empty()) return absl::InvalidArgumentError("tar_shards: no manifest given");
  if (IsUrl(manifest)) {
    if (options.store == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("tar_shards: manifest '",
                                                     io::RedactUrl(manifest),
                                                     "' is a URL: an "
                                                     "object store is required"));
    }
    absl::StatusOr<std::vector<uint8_t>> bytes =
        options.store->ReadAndWait(manifest, {.max_bytes = int64_t{64} << 20});
    if (!bytes.ok()) {
      return absl::Status(bytes.status().code(),
                          absl::StrCat("tar_shards: manifest '", io::RedactUrl(manifest),
                                       "': ", bytes.status().message()));
    }
    text.assign(bytes->begin(), bytes->end());
  } else {
    std::ifstream in(manifest, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(absl::StrCat("tar_shards: cannot read manifest '", manifest,
                                              "': ", std::strerror(errno)));
    }
    std::stringstream content;
    content << in.rdbuf();
    text = content.str();
  }
  absl::StatusOr<ShardManifest> parsed = ShardManifest::Parse(text, manifest);
  if (!parsed.ok()) return parsed.status();
  const size_t slash = manifest.rfind('/');
  std::string base = slash == std::string::npos ? "" : manifest.substr(0, slash + 1);
  return std::unique_ptr<TarShardDataset>(
      new TarShardDataset(std::move(options), *std::move(parsed), std::move(base)));
}

absl::StatusOr<Sample> TarShardDataset::Load(int64_t index, uint64_t) const {
  return absl::FailedPreconditionError(
      absl::StrCat("tar shards are read in order, not by index (sample ", index, ")"));
}

uint64_t TarShardDataset::ContentFingerprint() const {
  Fingerprint hash;
  hash.Add("tar_shards").Add(options_.shuffle_buffer);
  for (const ShardEntry& shard : manifest_.shards) {
    hash.Add(shard.file).Add(shard.samples).Add(shard.bytes);
  }
  return hash.value();
}

int64_t TarShardDataset::SamplesPerStream(int64_t shard_count) const {
  return shard_count < 1 ? 0 : manifest_.total_samples / shard_count;
}

std::string TarShardDataset::ShardLocation(int64_t index) const {
  return absl::StrCat(base_, manifest_.shards[static_cast<size_t>(index)].file);
}

std::vector<int64_t> TarShardDataset::ShardOrder(uint64_t seed, uint64_t epoch,
                                                 bool shuffle) const {
  std::vector<int64_t> order(manifest_.shards.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  if (shuffle) {
    SampleRandom random(SampleSeed(seed, epoch, -1), kShardOrderSalt);
    for (size_t i = order.size(); i > 1; --i) {
      std::swap(order[i - 1],
                order[static_cast<size_t>(random.UniformInt(0, static_cast<int64_t>(i) - 1))]);
    }
  }
  return order;
}

std::vector<int64_t> TarShardDataset::EmitOrder(const SequentialStreamRequest& request) const {
  const int64_t count = SamplesPerStream(request.shard_count);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(count));
  const int64_t capacity = request.shuffle ? options_.shuffle_buffer : 1;
  if (capacity <= 1) {
    for (int64_t i = 0; i < count; ++i) out.push_back(i);
    return out;
  }
  SampleRandom random(SampleSeed(request.seed, request.epoch, request.shard_index),
                      kBufferSalt ^ static_cast<uint64_t>(request.shard_count));
  std::vector<int64_t> slots;
  int64_t next = 0;
  while (next < count && static_cast<int64_t>(slots.size()) < capacity) slots.push_back(next++);
  while (!slots.empty()) {
    const size_t slot =
        static_cast<size_t>(random.UniformInt(0, static_cast<int64_t>(slots.size()) - 1));
    out.push_back(slots[slot]);
    if (next < count) {
      slots[slot] = next++;
    } else {
      slots[slot] = slots.back();
      slots.pop_back();
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<SampleStream>> TarShardDataset::OpenStream(
    const SequentialStreamRequest& request) const {
  return OpenStream(request, nullptr);
}

absl::StatusOr<std::unique_ptr<SampleStream>> TarShardDataset::OpenStream(
    const SequentialStreamRequest& request, std::shared_ptr<TarShardStreamStats> stats) const {
  const int64_t count = SamplesPerStream(request.shard_count);
  if (request.shard_count < 1 || request.shard_index < 0 ||
      request.shard_index >= request.shard_count) {
    return absl::InvalidArgumentError(absl::StrCat("stream ", request.shard_index, " of ",
                                                   request.shard_count, " does not exist"));
  }
  if (request.first_sample < 0 || request.first_sample > request.end_sample ||
      request.end_sample > count) {
    return absl::InvalidArgumentError(absl::StrCat("samples [", request.first_sample, ", ",
                                                   request.end_sample,
                                                   ") are not within the stream's ", count));
  }
  return std::make_unique<TarShardStream>(*this, request, std::move(stats));
}

}  // namespace dataloader::server
