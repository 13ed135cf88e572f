// Copyright 2026 The dataloader Authors.

#include "server/service/active_streams.h"

#include "absl/strings/str_cat.h"

namespace dataloader::server {

absl::Status ActiveStreams::Admit(ServedStream* stream) {
  MutexLock lock(&mu_);
  if (draining_) {
    return absl::UnavailableError(
        "server is shutting down; retry on another replica (resume with your resume_token)");
  }
  if (static_cast<int>(streams_.size()) >= max_streams_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many streams: this server serves at most ", max_streams_,
                     " at once; retry later or use another replica"));
  }
  streams_.insert(stream);
  return absl::OkStatus();
}

void ActiveStreams::Release(ServedStream* stream) {
  MutexLock lock(&mu_);
  streams_.erase(stream);
}

void ActiveStreams::BeginDrain() {
  MutexLock lock(&mu_);
  draining_ = true;
}

bool ActiveStreams::draining() const {
  MutexLock lock(&mu_);
  return draining_;
}

bool ActiveStreams::AwaitNone(absl::Time deadline) const {
  MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(
      absl::Condition(
          +[](const std::set<ServedStream*>* streams) { return streams->empty(); }, &streams_),
      deadline);
}

void ActiveStreams::ForEach(absl::FunctionRef<void(ServedStream&)> fn) const {
  MutexLock lock(&mu_);
  for (ServedStream* stream : streams_) fn(*stream);
}

int ActiveStreams::size() const {
  MutexLock lock(&mu_);
  return static_cast<int>(streams_.size());
}

}  // namespace dataloader::server
