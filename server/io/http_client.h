// Copyright 2026 The dataloader Authors.
//
// HttpClient: HTTP(S) GETs that hold no thread while they wait. One I/O thread drives every
// transfer through libcurl's multi interface (curl_multi_socket_action, the sockets in epoll:
// a wake-up costs the ready sockets, not a scan of every connection); Fetch() only queues the
// request and returns, and
// the callback runs on the I/O thread when the response (or the final error) is in. A stage
// that calls Fetch() from an asynchronous op therefore has as many requests in flight as its
// concurrency, whatever the size of the thread pool.
//
//   absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::Create({});
//   (*client)->Fetch({.url = "https://example.com/a.jpg"},
//                    [](absl::StatusOr<HttpResponse> response) { ... });  // on the I/O thread
//
// Per request: connect and total timeouts; retries with exponential backoff and jitter
// (RetryPolicy) on connection errors, timeouts, 408, 429 and 5xx; HTTP keep-alive, connections
// reused across requests (libcurl's connection cache, shared by all transfers of a client);
// optional byte ranges; TLS verified against the system's CAs or `ca_file`; AWS Signature V4
// through libcurl (CURLOPT_AWS_SIGV4). A request whose cancellation token fires is aborted within
// `cancel_poll_interval`.
//
// What the callback gets:
//   - an HttpResponse for every final HTTP answer, 2xx or not (a 404 is an answer); a
//     retryable status (429, 5xx) only once the attempts are used up (see `attempts`);
//   - Unavailable when no answer came after the attempts (refused, reset, timed out) or TLS
//     verification failed; Cancelled when the token fired or the client shut down;
//     InvalidArgument for a bad URL or a body over `max_body_bytes`.
// Messages name what failed, never credentials: URLs are shown with their user info and any
// signature or token query values removed (RedactUrl).
//
// Every libcurl call is made on the I/O thread (libcurl is not built for ThreadSanitizer, and a
// multi handle is single-threaded anyway); the only shared state is the request queue and the
// statistics, under a lock.
//
// Thread-safe. Callbacks run on the I/O thread, must not block, and may call Fetch().
#ifndef SERVER_IO_HTTP_CLIENT_H_
#define SERVER_IO_HTTP_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/cancellation.h"
#include "server/io/retry_policy.h"

namespace dataloader::server::io {

// Bytes [offset, offset + length) of a resource; length -1 means to its end.
struct ByteRange {
  int64_t offset = 0;
  int64_t length = -1;
};

// AWS Signature Version 4 parameters; curl computes the signature. `secret_access_key` is only
// ever handed to curl: it is never logged or put in a message.
struct AwsSigV4 {
  std::string region{};         // "us-east-1"
  std::string service = "s3";   // The signing service name.
  std::string access_key_id{};  // Sent in the Authorization header (not secret).
  std::string secret_access_key{};
};

struct HttpRequest {
  // http:// or https:// (other schemes are refused).
  std::string url{};
  // Extra headers, "Name: value". With `sigv4`, every one of them is signed.
  std::vector<std::string> headers{};
  // Only these bytes (a Range header). A server that ignores ranges and sends the whole
  // resource (200) is handled: the client keeps the asked-for bytes.
  std::optional<ByteRange> range{};
  // Sign the request (S3). Redirects are not followed for signed requests.
  std::optional<AwsSigV4> sigv4{};
  // Bodies larger than this fail the request with InvalidArgument. Default 256 MiB.
  int64_t max_body_bytes = int64_t{256} << 20;
  // Aborts the request (Cancelled) when it fires. Default: never.
  CancellationToken cancel{};
};

struct HttpResponse {
  int status = 0;               // HTTP status code of the final answer.
  std::vector<uint8_t> body{};  // The asked-for bytes (a range's, if one was asked for).
  // Size of the whole resource when the server said (Content-Range's total on a 206, the body
  // size on a 200); -1 if unknown.
  int64_t resource_size = -1;
  int attempts = 0;  // Tries it took, the first included.
};

struct HttpClientOptions {
  // Limit on establishing a connection (TCP and TLS), per attempt. Default 10 s.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Limit on a whole attempt, body included: a server that trickles a body slower than this
  // is treated as failed (and retried). Default 120 s.
  absl::Duration request_timeout = absl::Seconds(120);
  // Attempts and backoff; see RetryPolicy.
  RetryPolicy retry{};
  // PEM file of CA certificates that server certificates are verified against, instead of
  // the system's (private stores). Verification itself is always on. Default: system CAs.
  std::string ca_file{};
  // Connections to one host at once; further requests to it wait (without a thread) for a
  // free one. 0: no limit, the stages' concurrency bounds it. Default 0.
  int max_connections_per_host = 0;
  // Idle connections kept open for reuse (beyond it the oldest closes). libcurl's default
  // follows the number of running transfers, so a stage whose requests thin out at the end of
  // an epoch would close connections the next epoch opens again. Must be >= 1. Default 256.
  int max_idle_connections = 256;
  // "HOST:PORT:CONNECT_HOST:CONNECT_PORT" entries: connect elsewhere than the URL's host says,
  // keeping its name for Host, TLS and signing (curl's CONNECT_TO). For split-horizon DNS and
  // tests. Default none.
  std::vector<std::string> connect_to{};
  // How often the I/O thread looks at the cancellation tokens of running requests: the
  // longest a cancelled request keeps its connection. Must be > 0. Default 10 ms.
  absl::Duration cancel_poll_interval = absl::Milliseconds(10);
};

// Counters since the client was made. Thread-compatible snapshot.
struct HttpClientStats {
  int64_t requests = 0;            // Fetch() calls.
  int64_t responses = 0;           // Requests that ended with an HTTP answer (any status).
  int64_t failures = 0;            // Requests that ended with an error other than Cancelled.
  int64_t cancelled = 0;           // Requests aborted by their token or by shutdown.
  int64_t attempts = 0;            // Tries, retries included.
  int64_t retries = 0;             // attempts beyond each request's first.
  int64_t connections_opened = 0;  // New connections; every other attempt reused one.
  // Requests queued, running, waiting to retry, or whose callback has not yet returned (and
  // been destroyed, with what it captured) now.
  int64_t in_flight = 0;
  int64_t peak_in_flight = 0;  // Most in flight at once.
};

// `url` without user info ("user:secret@") and with the values of query parameters that
// carry credentials (names containing "signature", "credential", "token", "secret", "key" or
// "password", any case) replaced by "REDACTED": safe for logs and messages.
std::string RedactUrl(absl::string_view url);

class HttpClient {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<HttpResponse>)>;

  // InvalidArgument naming the option if one is bad (the CA file must be readable).
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(HttpClientOptions options);
  // Aborts the requests in flight (their callbacks get Cancelled, on the I/O thread) and joins
  // the I/O thread; from one of the client's own callbacks, lets the thread finish alone.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts `request`; `done` is called exactly once, on the I/O thread. Never blocks.
  void Fetch(HttpRequest request, Callback done);
  // Fetch() and wait for the result. For start-up work (listing a bucket); never call it on
  // the I/O thread (from a callback) or on a thread that must not block.
  absl::StatusOr<HttpResponse> FetchAndWait(HttpRequest request);

  HttpClientStats Stats() const;
  const HttpClientOptions& options() const { return options_; }

 private:
  // The I/O thread and everything it touches. The thread holds it too, so that a client may
  // be destroyed from one of its own callbacks (the thread then finishes alone).
  class Engine;

  HttpClient(HttpClientOptions options, std::shared_ptr<Engine> engine);

  const HttpClientOptions options_;
  const std::shared_ptr<Engine> engine_;
  std::thread thread_;
};

}  // namespace dataloader::server::io

#endif  // SERVER_IO_HTTP_CLIENT_H_
