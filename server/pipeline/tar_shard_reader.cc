// Copyright 2026 The dataloader Authors.

#include "server/pipeline/tar_shard_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/cancellation.h"
#include "core/mutex.h"

namespace dataloader::server {
namespace {

constexpr size_t kLocalChunkBytes = size_t{1} << 20;

class LocalShard final : public ShardByteSource {
 public:
  LocalShard(std::FILE* file, int64_t size) : file_(file), size_(size), buffer_(kLocalChunkBytes) {}
  ~LocalShard() override { std::fclose(file_); }

  absl::StatusOr<absl::string_view> Next() override {
    const size_t read = std::fread(buffer_.data(), 1, buffer_.size(), file_);
    if (read == 0 && std::ferror(file_)) {
      return absl::DataLossError(absl::StrCat("read failed: ", std::strerror(errno)));
    }
    position_ += static_cast<int64_t>(read);
    return absl::string_view(buffer_.data(), read);
  }

  int64_t Skip(int64_t bytes) override {
    const int64_t skip = std::min(bytes, std::max<int64_t>(0, size_ - position_));
    if (skip <= 0 || fseeko(file_, static_cast<off_t>(skip), SEEK_CUR) != 0) return 0;
    position_ += skip;
    return skip;
  }

 private:
  std::FILE* file_;
  const int64_t size_;
  int64_t position_ = 0;
  std::vector<char> buffer_;
};

// Ranged GETs finished by the store's I/O thread, by chunk index. Shared with the callbacks,
// which may outlive the source (a cancelled read still calls back).
struct RemoteChunks {
  Mutex mu;
  std::map<int64_t, absl::StatusOr<std::vector<uint8_t>>> done ABSL_GUARDED_BY(mu);
};

class RemoteShard final : public ShardByteSource {
 public:
  RemoteShard(std::shared_ptr<const io::ObjectStore> store, std::string url, int64_t size,
              RemoteShardOptions options)
      : store_(std::move(store)),
        url_(std::move(url)),
        size_(size),
        options_(options),
        chunks_(options_.chunk_bytes <= 0
                    ? 0
                    : (size + options_.chunk_bytes - 1) / options_.chunk_bytes),
        state_(std::make_shared<RemoteChunks>()) {
    Issue();
  }
  ~RemoteShard() override { cancel_.Cancel(); }

  absl::StatusOr<absl::string_view> Next() override {
    if (next_read_ >= chunks_) return absl::string_view();
    const int64_t index = next_read_;
    absl::StatusOr<std::vector<uint8_t>> chunk;
    {
      MutexLock lock(&state_->mu);
      auto arrived = [this, index]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
        return state_->done.count(index) > 0;
      };
      state_->mu.Await(absl::Condition(&arrived));
      auto it = state_->done.find(index);
      chunk = std::move(it->second);
      state_->done.erase(it);
    }
    ++next_read_;
    Issue();
    const int64_t offset = index * options_.chunk_bytes;
    const int64_t length = std::min(options_.chunk_bytes, size_ - offset);
    if (!chunk.ok()) {
      return absl::Status(chunk.status().code(),
                          absl::StrCat("reading bytes ", offset, "..", offset + length, ": ",
                                       chunk.status().message()));
    }
    if (static_cast<int64_t>(chunk->size()) != length) {
      return absl::DataLossError(absl::StrCat("bytes ", offset, "..", offset + length, ": got ",
                                              chunk->size(), " bytes, expected ", length,
                                              " (the manifest's size is wrong?)"));
    }
    current_ = *std::move(chunk);
    return absl::string_view(reinterpret_cast<const char*>(current_.data()), current_.size());
  }

 private:
  void Issue() {
    while (next_request_ < chunks_ && next_request_ < next_read_ + options_.prefetch) {
      const int64_t index = next_request_++;
      const int64_t offset = index * options_.chunk_bytes;
      io::ReadOptions read{
          .range = io::ByteRange{.offset = offset,
                                 .length = std::min(options_.chunk_bytes, size_ - offset)},
          .cancel = cancel_.token()};
      store_->Read(url_, std::move(read),
                   [state = state_, index](absl::StatusOr<std::vector<uint8_t>> bytes) {
                     MutexLock lock(&state->mu);
                     state->done.emplace(index, std::move(bytes));
                   });
    }
  }

  const std::shared_ptr<const io::ObjectStore> store_;
  const std::string url_;
  const int64_t size_;
  const RemoteShardOptions options_;
  const int64_t chunks_;
  const std::shared_ptr<RemoteChunks> state_;
  CancellationSource cancel_;
  int64_t next_request_ = 0;
  int64_t next_read_ = 0;
  std::vector<uint8_t> current_;
};

// WebDataset: the key is the member name up to the first '.' of its base name; the field is
// the rest, lower-cased.
std::pair<absl::string_view, std::string> SplitMember(absl::string_view name) {
  const size_t slash = name.rfind('/');
  const size_t base = slash == absl::string_view::npos ? 0 : slash + 1;
  const size_t dot = name.find('.', base);
  if (dot == absl::string_view::npos) return {name, ""};
  return {name.substr(0, dot), absl::AsciiStrToLower(name.substr(dot + 1))};
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShardByteSource>> OpenLocalShard(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open: ", std::strerror(errno)));
  }
  int64_t size = 0;
  if (fseeko(file, 0, SEEK_END) == 0) size = ftello(file);
  fseeko(file, 0, SEEK_SET);
  return std::make_unique<LocalShard>(file, size);
}

std::unique_ptr<ShardByteSource> OpenRemoteShard(std::shared_ptr<const io::ObjectStore> store,
                                                 std::string url, int64_t size,
                                                 RemoteShardOptions options) {
  if (options.chunk_bytes < 1) options.chunk_bytes = RemoteShardOptions().chunk_bytes;
  if (options.prefetch < 1) options.prefetch = 1;
  return std::make_unique<RemoteShard>(std::move(store), std::move(url), size, options);
}

TarSampleReader::TarSampleReader(std::unique_ptr<ShardByteSource> bytes, std::string name)
    : bytes_(std::move(bytes)), name_(std::move(name)), archive_(archive_read_new()) {}

TarSampleReader::~TarSampleReader() { archive_read_free(archive_); }

absl::Status TarSampleReader::Fail(absl::string_view what) {
  absl::StatusCode code = absl::StatusCode::kDataLoss;
  std::string detail;
  if (!source_error_.ok()) {
    code = source_error_.code();
    detail = std::string(source_error_.message());
  } else {
    const char* text = archive_error_string(archive_);
    detail = text == nullptr ? "unknown error" : text;
  }
  error_ = absl::Status(
      code, absl::StrCat("shard '", name_, "': ", what,
                         last_member_.empty() ? std::string(" at its start")
                                              : absl::StrCat(" after member '", last_member_, "'"),
                         ": ", detail));
  return error_;
}

absl::StatusOr<bool> TarSampleReader::ReadHeader() {
  while (true) {
    archive_entry* entry = nullptr;
    const int result = archive_read_next_header(archive_, &entry);
    if (result == ARCHIVE_EOF) return false;
    if (result != ARCHIVE_OK && result != ARCHIVE_WARN) return Fail("cannot read a member header");
    const char* path = archive_entry_pathname(entry);
    if (archive_entry_filetype(entry) != AE_IFREG || path == nullptr) {
      if (archive_read_data_skip(archive_) != ARCHIVE_OK) return Fail("cannot skip a member");
      continue;
    }
    pending_ = path;
    pending_size_ = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : 0;
    last_member_ = path;
    return true;
  }
}

absl::StatusOr<std::optional<ShardSample>> TarSampleReader::Next(bool with_data) {
  if (!error_.ok()) return error_;
  if (!started_) {
    started_ = true;
    archive_read_support_format_tar(archive_);
    archive_read_support_filter_all(archive_);
    archive_read_set_callback_data(archive_, this);
    archive_read_set_read_callback(
        archive_, +[](archive* a, void* self, const void** buffer) -> la_ssize_t {
          auto* reader = static_cast<TarSampleReader*>(self);
          absl::StatusOr<absl::string_view> chunk = reader->bytes_->Next();
          if (!chunk.ok()) {
            reader->source_error_ = chunk.status();
            archive_set_error(a, EIO, "read failed");
            return -1;
          }
          *buffer = chunk->data();
          return static_cast<la_ssize_t>(chunk->size());
        });
    archive_read_set_skip_callback(
        archive_, +[](archive*, void* self, la_int64_t request) -> la_int64_t {
          return static_cast<TarSampleReader*>(self)->bytes_->Skip(request);
        });
    if (archive_read_open1(archive_) != ARCHIVE_OK) return Fail("cannot open");
    absl::StatusOr<bool> first = ReadHeader();
    if (!first.ok()) return first.status();
    ended_ = !*first;
  }
  if (ended_) return std::nullopt;

  ShardSample sample;
  sample.key = std::string(SplitMember(*pending_).first);
  bool has_image = false;
  auto bad = [&](auto&&... parts) {
    if (sample.status.ok()) {
      sample.status = absl::InvalidArgumentError(
          absl::StrCat("shard '", name_, "', sample '", sample.key, "': ", parts...));
    }
  };
  while (true) {
    const std::string member = *pending_;
    const std::string field = SplitMember(member).second;
    const bool image = field == "jpg" || field == "jpeg" || field == "png";
    const bool label = field == "cls";
    if (with_data && (image || label)) {
      // libarchive's blocks copied straight into the sample: one copy, no zero-fill.
      std::vector<uint8_t> data;
      data.reserve(static_cast<size_t>(std::max<int64_t>(0, pending_size_)));
      while (true) {
        const void* block = nullptr;
        size_t size = 0;
        la_int64_t offset = 0;
        const int result = archive_read_data_block(archive_, &block, &size, &offset);
        if (result == ARCHIVE_EOF) break;
        if (result != ARCHIVE_OK && result != ARCHIVE_WARN) {
          return Fail(absl::StrCat("cannot read member '", member, "'"));
        }
        if (static_cast<size_t>(offset) != data.size()) {  // Sparse entries: holes are zeros.
          data.resize(static_cast<size_t>(offset));
        }
        const auto* bytes = static_cast<const uint8_t*>(block);
        data.insert(data.end(), bytes, bytes + size);
      }
      if (image) {
        if (has_image) bad("two image members (", member, ")");
        has_image = true;
        sample.encoded = std::move(data);
      } else {
        const std::string text(data.begin(), data.end());
        if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &sample.label)) {
          bad("member '", member, "' is not an integer label");
        }
      }
    } else {
      if (image) has_image = true;
      if (archive_read_data_skip(archive_) != ARCHIVE_OK) {
        return Fail(absl::StrCat("cannot skip member '", member, "'"));
      }
    }
    absl::StatusOr<bool> more = ReadHeader();
    if (!more.ok()) return more.status();
    if (!*more) {
      ended_ = true;
      pending_.reset();
      break;
    }
    if (SplitMember(*pending_).first != sample.key) break;
  }
  if (!has_image) bad("no jpg, jpeg or png member");
  return sample;
}

}  // namespace dataloader::server
