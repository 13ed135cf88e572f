// Copyright 2026 The dataloader Authors.
//
// ActiveStreams: the streams a service serves now, and admission. One lock decides both
// whether a new stream may start (not draining, fewer than max_streams) and registers it, so
// a drain that has begun sees every stream admitted before it and no stream after it.
//
//   absl::Status admitted = streams.Admit(&stream);   // UNAVAILABLE / RESOURCE_EXHAUSTED
//   ...
//   streams.Release(&stream);                         // before the stream sends its status
//
// Thread-safe.
#ifndef SERVER_SERVICE_ACTIVE_STREAMS_H_
#define SERVER_SERVICE_ACTIVE_STREAMS_H_

#include <set>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/mutex.h"
#include "core/pipeline_stats.h"

namespace dataloader::server {

// What the service needs of a running stream.
class ServedStream {
 public:
  virtual ~ServedStream() = default;
  // Ends the stream with UNAVAILABLE (drain deadline passed). Must not block: called with the
  // registry's lock held.
  virtual void EndForDrain() = 0;
  // A snapshot of the stream's pipeline.
  virtual PipelineStats Stats() const = 0;
};

class ActiveStreams {
 public:
  // `max_streams` >= 1.
  explicit ActiveStreams(int max_streams) : max_streams_(max_streams) {}
  ActiveStreams(const ActiveStreams&) = delete;
  ActiveStreams& operator=(const ActiveStreams&) = delete;

  // Registers `stream`, or refuses it: UNAVAILABLE once draining, RESOURCE_EXHAUSTED when
  // max_streams are active.
  absl::Status Admit(ServedStream* stream);
  // Frees the stream's slot (idempotent). Call it before the stream's status goes to the
  // client, so that a client retrying at once finds the slot free.
  void Release(ServedStream* stream);

  // From now on Admit() refuses with UNAVAILABLE.
  void BeginDrain();
  bool draining() const;
  // Waits until no stream is active or `deadline` passes; returns whether none is.
  bool AwaitNone(absl::Time deadline) const;
  // Calls `fn` for each active stream, with the lock held (so each stays registered, hence
  // alive, during its call); `fn` must not block or call back into this registry.
  void ForEach(absl::FunctionRef<void(ServedStream&)> fn) const;
  int size() const;
  int max_streams() const { return max_streams_; }

 private:
  const int max_streams_;
  mutable Mutex mu_;
  std::set<ServedStream*> streams_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dataloader::server

#endif  // SERVER_SERVICE_ACTIVE_STREAMS_H_
