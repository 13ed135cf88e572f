// Copyright 2026 The dataloader Authors.
//
// TestHttpServer: a real HTTP/1.1 server on 127.0.0.1 for tests and benchmarks, with latency
// and faults injected per response: delays, connection resets, slow (chunked-in-time) bodies,
// truncated bodies, any status. One thread, epoll, keep-alive connections; fast enough to serve
// thousands of delayed responses a second (the download benchmark needs 6,400/s).
//
//   auto server = TestHttpServer::Start([](const TestHttpServer::Request& request) {
//     TestHttpServer::Response response;
//     if (request.path == "/slow") response.delay = absl::Milliseconds(10);
//     response.body = "hello";
//     return response;
//   });
//   std::string url = (*server)->Url("/slow");
//
// The handler runs on the server's thread: it must be quick and thread-safe against the test.
// Thread-safe.
#ifndef TESTS_SERVER_IO_TEST_HTTP_SERVER_H_
#define TESTS_SERVER_IO_TEST_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dataloader::server::testing {

class TestHttpServer {
 public:
  struct Request {
    std::string method{};
    std::string target{};                          // As sent: path and query.
    std::string path{};                            // Before '?', still percent-encoded.
    std::string query{};                           // After '?'.
    std::map<std::string, std::string> headers{};  // Names lowercased.
    int64_t connection = 0;                        // 1 for the first connection accepted, ...
  };

  enum class Fault {
    kNone,
    kReset,         // Instead of answering, close the connection with a TCP reset.
    kTruncateBody,  // Send the headers and half the body, then close.
  };

  struct Response {
    int status = 200;
    std::string body{};
    std::vector<std::pair<std::string, std::string>> headers{};
    // Nothing is sent before this has passed (the request still holds its connection).
    absl::Duration delay = absl::ZeroDuration();
    Fault fault = Fault::kNone;
    // A slow body: after the headers, `chunk_bytes` of it every `chunk_interval`.
    size_t chunk_bytes = 0;
    absl::Duration chunk_interval = absl::ZeroDuration();
    // Close the connection after this response.
    bool close = false;
  };

  using Handler = std::function<Response(const Request&)>;

  static absl::StatusOr<std::unique_ptr<TestHttpServer>> Start(Handler handler);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  // Closes the listening socket and every connection: from then on, connections to the port
  // are refused (the store "goes away"). Idempotent.
  void Stop();

  int port() const { return port_; }
  // "http://127.0.0.1:PORT" followed by `path_and_query`.
  std::string Url(absl::string_view path_and_query) const;
  int64_t connections_accepted() const { return connections_accepted_.load(); }
  int64_t requests() const { return requests_.load(); }
  // Where the time of a request-response cycle goes, summed over all cycles so far:
  // `timer_late`: how much later than asked delayed responses started (the server's own
  // overhead); `turnaround`: from a response's last byte being sent to the next request on that
  // connection arriving (the client's overhead between two requests of one slot).
  absl::Duration timer_late() const { return absl::Nanoseconds(timer_late_ns_.load()); }
  absl::Duration turnaround() const { return absl::Nanoseconds(turnaround_ns_.load()); }
  int64_t turnarounds() const { return turnarounds_.load(); }

  // 200 with `bytes`, or 206 with the part a "Range: bytes=A-B" / "bytes=A-" header asks for
  // (416 if it is outside).
  static Response Bytes(const Request& request, std::string bytes);

 private:
  struct Connection;
  explicit TestHttpServer(Handler handler) : handler_(std::move(handler)) {}
  void Run();

  Handler handler_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int timer_fd_ = -1;
  int port_ = 0;
  std::atomic<int64_t> connections_accepted_{0};
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> timer_late_ns_{0};
  std::atomic<int64_t> turnaround_ns_{0};
  std::atomic<int64_t> turnarounds_{0};
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

}  // namespace dataloader::server::testing

#endif  // TESTS_SERVER_IO_TEST_HTTP_SERVER_H_
