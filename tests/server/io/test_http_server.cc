// Copyright 2026 The dataloader Authors.

#include "tests/server/io/test_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dataloader::server::testing {
namespace {

constexpr uint64_t kListenKey = ~uint64_t{0};
constexpr uint64_t kWakeKey = ~uint64_t{0} - 1;
constexpr uint64_t kTimerKey = ~uint64_t{0} - 2;

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

struct TestHttpServer::Connection {
  int fd = -1;
  int64_t id = 0;
  std::string in;
  std::string out;
  bool want_write = false;  // EPOLLOUT registered.
  bool busy = false;        // Answering a request (delayed or chunked): later ones wait.
  bool close_when_flushed = false;
  Response response;  // Of a delayed or chunked answer.
  size_t body_sent = 0;
  absl::Time answered = absl::InfinitePast();  // When the last answer was all sent.
};

absl::StatusOr<std::unique_ptr<TestHttpServer>> TestHttpServer::Start(Handler handler) {
  std::unique_ptr<TestHttpServer> server(new TestHttpServer(std::move(handler)));
  server->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (server->listen_fd_ < 0) return absl::InternalError("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(server->listen_fd_, 1024) != 0 ||
      getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return absl::InternalError(absl::StrCat("cannot listen on 127.0.0.1: ", std::strerror(errno)));
  }
  server->port_ = ntohs(address.sin_port);
  server->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  server->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kListenKey;
  epoll_ctl(server->epoll_fd_, EPOLL_CTL_ADD, server->listen_fd_, &event);
  event.data.u64 = kWakeKey;
  epoll_ctl(server->epoll_fd_, EPOLL_CTL_ADD, server->wake_fd_, &event);
  // Delays are kept to the microsecond (epoll_wait's own timeout counts whole milliseconds).
  server->timer_fd_ = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  event.data.u64 = kTimerKey;
  epoll_ctl(server->epoll_fd_, EPOLL_CTL_ADD, server->timer_fd_, &event);
  server->thread_ = std::thread([raw = server.get()] { raw->Run(); });
  return server;
}

TestHttpServer::~TestHttpServer() {
  Stop();
  close(epoll_fd_);
  close(wake_fd_);
  close(timer_fd_);
}

void TestHttpServer::Stop() {
  if (stopped_.exchange(true)) return;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t written = write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

std::string TestHttpServer::Url(absl::string_view path_and_query) const {
  return absl::StrCat("http://127.0.0.1:", port_, path_and_query);
}

TestHttpServer::Response TestHttpServer::Bytes(const Request& request, std::string bytes) {
  Response response;
  auto range = request.headers.find("range");
  if (range == request.headers.end()) {
    response.body = std::move(bytes);
    return response;
  }
  const int64_t size = static_cast<int64_t>(bytes.size());
  absl::string_view spec = range->second;
  int64_t first = 0, last = size - 1;
  bool ok = absl::ConsumePrefix(&spec, "bytes=");
  std::vector<std::string> parts = absl::StrSplit(spec, '-');
  ok = ok && parts.size() == 2 && absl::SimpleAtoi(parts[0], &first) &&
       (parts[1].empty() || absl::SimpleAtoi(parts[1], &last));
  if (!ok || first >= size || last < first) {
    response.status = 416;
    response.headers.push_back({"Content-Range", absl::StrCat("bytes */", size)});
    return response;
  }
  last = std::min(last, size - 1);
  response.status = 206;
  response.headers.push_back(
      {"Content-Range", absl::StrCat("bytes ", first, "-", last, "/", size)});
  response.body = bytes.substr(static_cast<size_t>(first), static_cast<size_t>(last - first + 1));
  return response;
}

void TestHttpServer::Run() {
  std::map<int64_t, std::unique_ptr<Connection>> connections;
  enum TimerKind { kRespond, kChunk };
  std::multimap<absl::Time, std::pair<int64_t, TimerKind>> timers;
  int64_t next_id = 1;

  auto set_write_interest = [&](Connection& c, bool want) {
    if (c.want_write == want) return;
    c.want_write = want;
    epoll_event event{};
    event.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    event.data.u64 = static_cast<uint64_t>(c.id);
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event);
  };
  auto close_connection = [&](Connection& c, bool reset) {
    if (reset) {
      linger option{1, 0};  // Close with RST rather than FIN.
      setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &option, sizeof option);
    }
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    connections.erase(c.id);  // Destroys `c`.
  };
  // Returns false if the connection was closed.
  auto flush = [&](Connection& c) -> bool {
    while (!c.out.empty()) {
      const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_write_interest(c, true);
        return true;
      }
      if (n <= 0) {
        close_connection(c, false);
        return false;
      }
      c.out.erase(0, static_cast<size_t>(n));
    }
    set_write_interest(c, false);
    if (!c.busy) c.answered = absl::Now();
    if (c.close_when_flushed) {
      close_connection(c, false);
      return false;
    }
    return true;
  };
  auto head = [](const Response& response) {
    std::string text = absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status),
                                    "\r\nContent-Length: ", response.body.size(), "\r\n");
    for (const auto& [name, value] : response.headers)
      absl::StrAppend(&text, name, ": ", value, "\r\n");
    if (response.close) absl::StrAppend(&text, "Connection: close\r\n");
    absl::StrAppend(&text, "\r\n");
    return text;
  };
  std::function<bool(Connection&)> try_parse;
  // Starts sending `response`; returns false if the connection was closed.
  auto respond = [&](Connection& c, Response response) -> bool {
    switch (response.fault) {
      case Fault::kReset:
        close_connection(c, true);
        return false;
      case Fault::kTruncateBody:
        c.out += head(response);
        c.out += response.body.substr(0, response.body.size() / 2);
        c.busy = true;
        c.close_when_flushed = true;
        return flush(c);
      case Fault::kNone:
        break;
    }
    if (response.chunk_bytes > 0) {
      c.out += head(response);
      c.response = std::move(response);
      c.body_sent = 0;
      c.busy = true;
      timers.emplace(absl::Now() + c.response.chunk_interval, std::make_pair(c.id, kChunk));
      return flush(c);
    }
    c.out += head(response);
    c.out += response.body;
    c.busy = false;
    c.close_when_flushed = response.close;
    if (!flush(c)) return false;
    return try_parse(c);
  };
  try_parse = [&](Connection& c) -> bool {
    while (!c.busy) {
      const size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return true;
      Request request;
      request.connection = c.id;
      std::vector<absl::string_view> lines =
          absl::StrSplit(absl::string_view(c.in).substr(0, end), "\r\n");
      std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
      if (first.size() >= 2) {
        request.method = first[0];
        request.target = first[1];
      }
      const size_t question = request.target.find('?');
      request.path = request.target.substr(0, question);
      if (question != std::string::npos) request.query = request.target.substr(question + 1);
      int64_t content_length = 0;
      for (size_t i = 1; i < lines.size(); ++i) {
        const size_t colon = lines[i].find(':');
        if (colon == absl::string_view::npos) continue;
        std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
        std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
        if (name == "content-length") absl::SimpleAtoi(value, &content_length);
        request.headers[name] = std::move(value);
      }
      const size_t consumed = end + 4 + static_cast<size_t>(std::max<int64_t>(0, content_length));
      if (c.in.size() < consumed) return true;  // Body still coming.
      c.in.erase(0, consumed);
      ++requests_;
      if (c.answered != absl::InfinitePast()) {
        turnaround_ns_ += absl::ToInt64Nanoseconds(absl::Now() - c.answered);
        ++turnarounds_;
        c.answered = absl::InfinitePast();
      }
      Response response = handler_(request);
      if (response.delay > absl::ZeroDuration()) {
        c.busy = true;
        c.response = std::move(response);
        timers.emplace(absl::Now() + c.response.delay, std::make_pair(c.id, kRespond));
        return true;
      }
      if (!respond(c, std::move(response))) return false;
    }
    return true;
  };

  epoll_event events[128];
  absl::Time armed = absl::InfiniteFuture();
  for (;;) {
    // The timer fd fires at the earliest due time (or never, with nothing due); re-armed only
    // when that time changed.
    const absl::Time earliest = timers.empty() ? absl::InfiniteFuture() : timers.begin()->first;
    if (earliest != armed) {
      itimerspec due{};
      if (earliest != absl::InfiniteFuture()) due.it_value = absl::ToTimespec(earliest);
      timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &due, nullptr);
      armed = earliest;
    }
    const int n = epoll_wait(epoll_fd_, events, 128, -1);
    bool stop = false;
    for (int i = 0; i < n; ++i) {
      const uint64_t key = events[i].data.u64;
      if (key == kWakeKey) {
        stop = true;
        continue;
      }
      if (key == kTimerKey) {
        uint64_t expirations = 0;
        [[maybe_unused]] ssize_t got = read(timer_fd_, &expirations, sizeof expirations);
        armed = absl::InfiniteFuture();  // Fired: disarmed until set again.
        continue;
      }
      if (key == kListenKey) {
        for (;;) {
          const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          auto connection = std::make_unique<Connection>();
          connection->fd = fd;
          connection->id = next_id++;
          ++connections_accepted_;
          epoll_event event{};
          event.events = EPOLLIN;
          event.data.u64 = static_cast<uint64_t>(connection->id);
          epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
          connections.emplace(connection->id, std::move(connection));
        }
        continue;
      }
      auto it = connections.find(static_cast<int64_t>(key));
      if (it == connections.end()) continue;
      Connection& c = *it->second;
      if (events[i].events & EPOLLOUT) {
        if (!flush(c)) continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        char buffer[16384];
        bool closed = false;
        for (;;) {
          const ssize_t got = recv(c.fd, buffer, sizeof buffer, 0);
          if (got > 0) {
            c.in.append(buffer, static_cast<size_t>(got));
            continue;
          }
          if (got < 0 && errno == EINTR) continue;
          if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          closed = true;  // Peer closed or error.
          break;
        }
        if (closed) {
          close_connection(c, false);
          continue;
        }
        try_parse(c);
      }
    }
    if (stop) break;
    const absl::Time now = absl::Now();
    while (!timers.empty() && timers.begin()->first <= now) {
      timer_late_ns_ += absl::ToInt64Nanoseconds(now - timers.begin()->first);
      const auto [id, kind] = timers.begin()->second;
      timers.erase(timers.begin());
      auto it = connections.find(id);
      if (it == connections.end()) continue;
      Connection& c = *it->second;
      if (kind == kRespond) {
        Response response = std::move(c.response);
        c.busy = false;
        respond(c, std::move(response));
        continue;
      }
      const size_t take = std::min(c.response.chunk_bytes, c.response.body.size() - c.body_sent);
      c.out.append(c.response.body, c.body_sent, take);
      c.body_sent += take;
      if (c.body_sent < c.response.body.size()) {
        timers.emplace(now + c.response.chunk_interval, std::make_pair(c.id, kChunk));
        flush(c);
        continue;
      }
      c.busy = false;
      c.close_when_flushed = c.response.close;
      if (flush(c)) try_parse(c);
    }
  }
  for (auto& [id, connection] : connections) close(connection->fd);
  close(listen_fd_);
}

}  // namespace dataloader::server::testing
