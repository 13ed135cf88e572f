// Copyright 2026 The dataloader Authors.

#include "server/io/object_store.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/mutex.h"

namespace dataloader::server::io {

absl::StatusOr<std::pair<std::string, std::string>> ParseS3Url(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "s3://")) {
    return absl::InvalidArgumentError(absl::StrCat("'", RedactUrl(url), "' is not an s3:// URL"));
  }
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == absl::string_view::npos || slash + 1 == rest.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", RedactUrl(url), "' must be s3://BUCKET/KEY with both parts"));
  }
  return std::make_pair(std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1)));
}

absl::StatusOr<std::shared_ptr<ObjectStore>> ObjectStore::Create(ObjectStoreOptions options) {
  absl::StatusOr<std::shared_ptr<HttpClient>> http = HttpClient::Create(options.http);
  if (!http.ok()) return http.status();
  std::unique_ptr<S3Client> s3;
  if (options.s3.has_value()) {
    absl::StatusOr<std::unique_ptr<S3Client>> made =
        S3Client::Create(*std::move(options.s3), *http);
    if (!made.ok()) return made.status();
    s3 = *std::move(made);
  }
  return std::shared_ptr<ObjectStore>(new ObjectStore(*std::move(http), std::move(s3)));
}

void ObjectStore::Read(const std::string& url, ReadOptions options, ReadCallback done) const {
  HttpRequest request;
  if (absl::StartsWith(url, "s3://")) {
    absl::StatusOr<std::pair<std::string, std::string>> location = ParseS3Url(url);
    if (!location.ok()) {
      done(location.status());
      return;
    }
    if (s3_ == nullptr) {
      done(absl::InvalidArgumentError("s3:// URL but the source has no s3 options"));
      return;
    }
    request = s3_->GetObjectRequest(location->first, location->second, options.range);
  } else {
    request.url = url;
    request.range = options.range;
  }
  request.max_body_bytes = options.max_bytes;
  request.cancel = std::move(options.cancel);
  http_->Fetch(std::move(request),
               [done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
                 if (!response.ok()) {
                   // Moved, not copied: a status shared by two threads is freed by whichever
                   // drops it last, through Abseil's uninstrumented reference count (a false
                   // race for ThreadSanitizer).
                   done(std::move(response).status());
                 } else if (response->status / 100 != 2) {
                   done(ResponseError(*response));
                 } else {
                   done(std::move(response->body));
                 }
               });
}

absl::StatusOr<std::vector<uint8_t>> ObjectStore::ReadAndWait(const std::string& url,
                                                              ReadOptions options) const {
  struct Wait {
    Mutex mu;
    std::optional<absl::StatusOr<std::vector<uint8_t>>> result ABSL_GUARDED_BY(mu);
  };
  auto wait = std::make_shared<Wait>();
  Read(url, std::move(options), [wait](absl::StatusOr<std::vector<uint8_t>> result) {
    MutexLock lock(&wait->mu);
    wait->result = std::move(result);
  });
  MutexLock lock(&wait->mu);
  wait->mu.Await(absl::Condition(
      +[](std::optional<absl::StatusOr<std::vector<uint8_t>>>* result) {
        return result->has_value();
      },
      &wait->result));
  return *std::move(wait->result);
}

}  // namespace dataloader::server::io
