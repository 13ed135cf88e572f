// Copyright 2026 The dataloader Authors.

#include "server/io/http_client.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/mutex.h"
#include "core/status_macros.h"

namespace dataloader::server::io {
namespace {

using Callback = HttpClient::Callback;

// One request's state, confined to the I/O thread.
struct Transfer {
  uint64_t id = 0;
  HttpRequest request;
  Callback done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string sigv4_scope;  // Kept alive while the handle uses it.
  HttpResponse response;
  // Of the current attempt.
  bool too_large = false;
  bool reserved = false;
  absl::Duration retry_after = absl::ZeroDuration();
  int64_t range_total = -1;
  char error_buffer[CURL_ERROR_SIZE] = {};
  // Waiting to retry: its entry in retries_.
  bool waiting = false;
  std::multimap<absl::Time, uint64_t>::iterator retry_entry;
  // Set once the request is over; the callback runs after the I/O step.
  std::optional<absl::StatusOr<HttpResponse>> result;
};

void GlobalInit() {
  static std::once_flag once;
  // Not thread-safe in libcurl before 7.84 and must run once per process: guarded here.
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool IsCredentialParameter(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (absl::string_view word : {"signature", "credential", "token", "secret", "key", "password"}) {
    if (absl::StrContains(lower, word)) return true;
  }
  return false;
}

// Connection errors, timeouts and broken answers are worth another try; a bad URL, a refused
// certificate or our own abort (body too large) would fail the same way again.
bool IsRetryableCurlCode(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_WRITE_ERROR:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_LOGIN_DENIED:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_AUTH_ERROR:
      return false;
    default:
      return true;
  }
}

bool IsUrlError(CURLcode code) {
  return code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT ||
         code == CURLE_TOO_MANY_REDIRECTS;
}

// "bytes 0-9/1234" -> 1234 (-1 if absent or "*").
int64_t RangeTotal(absl::string_view value) {
  const size_t slash = value.rfind('/');
  int64_t total = -1;
  if (slash == absl::string_view::npos || !absl::SimpleAtoi(value.substr(slash + 1), &total)) {
    return -1;
  }
  return total;
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  std::vector<uint8_t>& body = transfer->response.body;
  const int64_t limit = transfer->request.max_body_bytes;
  if (static_cast<int64_t>(body.size() + bytes) > limit) {
    transfer->too_large = true;
    return 0;  // Anything but `bytes` aborts the transfer with CURLE_WRITE_ERROR.
  }
  if (!transfer->reserved) {
    // One allocation for the whole body when the server said how long it is.
    transfer->reserved = true;
    curl_off_t length = -1;
    if (curl_easy_getinfo(transfer->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) ==
            CURLE_OK &&
        length > 0 && length <= limit) {
      body.reserve(static_cast<size_t>(length));
    }
  }
  body.insert(body.end(), data, data + bytes);
  return bytes;
}

size_t ReadHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  absl::string_view line = absl::StripTrailingAsciiWhitespace(absl::string_view(data, bytes));
  if (absl::StartsWith(line, "HTTP/")) {  // A new response (after a redirect or a 100).
    transfer->retry_after = absl::ZeroDuration();
    transfer->range_total = -1;
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return bytes;
  const std::string name = absl::AsciiStrToLower(line.substr(0, colon));
  const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
  if (name == "retry-after") {
    int64_t seconds = 0;  // The HTTP-date form is rare for stores; it is ignored.
    if (absl::SimpleAtoi(value, &seconds) && seconds >= 0) {
      transfer->retry_after = absl::Seconds(seconds);
    }
  } else if (name == "content-range") {
    transfer->range_total = RangeTotal(value);
  }
  return bytes;
}

}  // namespace

class HttpClient::Engine {
 public:
  explicit Engine(HttpClientOptions options) : options_(std::move(options)) {}
  ~Engine();
  absl::Status Init();
  void Run();
  // Thread-safe.
  void Enqueue(HttpRequest request, Callback done);
  void Stop();
  HttpClientStats Stats() const {
    MutexLock lock(&mu_);
    return stats_;
  }

 private:
  struct Queued {
    HttpRequest request;
    Callback done;
  };

  // Confined to the I/O thread.
  void StartAttempt(Transfer& transfer);
  void Reap(std::vector<std::unique_ptr<Transfer>>& finished);
  void FinishAttempt(Transfer& transfer, CURLcode code,
                     std::vector<std::unique_ptr<Transfer>>& finished);
  void Complete(Transfer& transfer, absl::StatusOr<HttpResponse> result,
                std::vector<std::unique_ptr<Transfer>>& finished);
  // Runs the callbacks of `finished` requests and destroys them; empties it.
  void RunCallbacks(std::vector<std::unique_ptr<Transfer>>& finished);
  void StartDueRetries(absl::Time now);
  void AbortCancelled(std::vector<std::unique_ptr<Transfer>>& finished);
  int NextWaitMillis(absl::Time now) const;
  void Detach(Transfer& transfer);
  uint64_t NextRandom();

  // libcurl's socket and timer callbacks (curl_multi_socket_action): the sockets it wants
  // watched go into epoll_fd_, its next timeout into curl_deadline_.
  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* user, void* socket_data);
  static int OnTimer(CURLM* multi, long timeout_ms, void* user);
  void Wake();

  // Constant after Init().
  const HttpClientOptions options_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // An eventfd in epoll_fd_: Enqueue() and Stop() wake the thread with it.
  CURLM* multi_ = nullptr;
  CURLSH* share_ = nullptr;           // TLS sessions shared by the client's transfers.
  curl_slist* connect_to_ = nullptr;  // options_.connect_to, or null.

  mutable Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  HttpClientStats stats_ ABSL_GUARDED_BY(mu_);

  // Confined to the I/O thread.
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::unique_ptr<Transfer>> transfers_;  // Running or waiting to retry.
  std::multimap<absl::Time, uint64_t> retries_;              // Due time -> transfer id.
  std::vector<CURL*> idle_handles_;                          // Kept for reuse.
  absl::Time curl_deadline_ = absl::InfiniteFuture();        // When curl wants a timeout call.
  std::map<int, uint32_t> watched_;  // Sockets in epoll_fd_ and their events: no redundant MODs.

  // True while the I/O thread is (about to be) in epoll_wait: only then does Enqueue() need
  // to wake it. Paired with the queue check under mu_ (see Run()).
  std::atomic<bool> sleeping_{false};
  uint64_t random_state_ = 0;
};

std::string RedactUrl(absl::string_view url) {
  std::string out;
  absl::string_view rest = url;
  const size_t scheme = rest.find("://");
  if (scheme != absl::string_view::npos) {
    absl::StrAppend(&out, rest.substr(0, scheme + 3));
    rest.remove_prefix(scheme + 3);
  }
  // User info ends at the last '@' before the path.
  const size_t path = rest.find_first_of("/?#");
  const size_t at = rest.substr(0, path).rfind('@');
  if (at != absl::string_view::npos) {
    absl::StrAppend(&out, "REDACTED@");
    rest.remove_prefix(at + 1);
  }
  const size_t query = rest.find('?');
  if (query == absl::string_view::npos) {
    absl::StrAppend(&out, rest);
    return out;
  }
  absl::StrAppend(&out, rest.substr(0, query + 1));
  absl::string_view params = rest.substr(query + 1);
  absl::string_view fragment;
  if (const size_t hash = params.find('#'); hash != absl::string_view::npos) {
    fragment = params.substr(hash);
    params = params.substr(0, hash);
  }
  std::vector<std::string> parts;
  for (absl::string_view param : absl::StrSplit(params, '&')) {
    const size_t equals = param.find('=');
    const absl::string_view name = param.substr(0, equals);
    if (equals != absl::string_view::npos && IsCredentialParameter(name)) {
      parts.push_back(absl::StrCat(name, "=REDACTED"));
    } else {
      parts.emplace_back(param);
    }
  }
  absl::StrAppend(&out, absl::StrJoin(parts, "&"), fragment);
  return out;
}

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options) {
  if (absl::Status valid = options.retry.Validate(); !valid.ok()) return valid;
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("connect_timeout and request_timeout must be > 0, got ",
                     absl::FormatDuration(options.connect_timeout), " and ",
                     absl::FormatDuration(options.request_timeout)));
  }
  if (options.cancel_poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("cancel_poll_interval must be > 0");
  }
  if (options.max_idle_connections < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_idle_connections must be >= 1, got ", options.max_idle_connections));
  }
  if (options.max_connections_per_host < 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_connections_per_host must be >= 0, got ",
                                                   options.max_connections_per_host));
  }
  if (!options.ca_file.empty()) {
    std::FILE* file = std::fopen(options.ca_file.c_str(), "r");
    if (file == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ca_file '", options.ca_file, "': ", std::strerror(errno)));
    }
    std::fclose(file);
  }
  auto engine = std::make_shared<Engine>(options);
  if (absl::Status init = engine->Init(); !init.ok()) return init;
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(options), std::move(engine)));
}

HttpClient::HttpClient(HttpClientOptions options, std::shared_ptr<Engine> engine)
    : options_(std::move(options)),
      engine_(std::move(engine)),
      thread_([engine = engine_] { engine->Run(); }) {}

HttpClient::~HttpClient() {
  engine_->Stop();
  if (std::this_thread::get_id() == thread_.get_id()) {
    // From a callback: the I/O thread finishes the step it is in, cancels what is left and
    // exits; its reference keeps the engine alive until then.
    thread_.detach();
  } else {
    thread_.join();
  }
}

void HttpClient::Fetch(HttpRequest request, Callback done) {
  engine_->Enqueue(std::move(request), std::move(done));
}

HttpClientStats HttpClient::Stats() const { return engine_->Stats(); }

absl::Status HttpClient::Engine::Init() {
  GlobalInit();
  multi_ = curl_multi_init();
  share_ = curl_share_init();
  if (multi_ == nullptr || share_ == nullptr) return absl::InternalError("libcurl init failed");
  // TLS sessions are resumed across the client's connections. Only the I/O thread uses the
  // share, so it needs no lock callbacks.
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_idle_connections));
  // Driven through curl_multi_socket_action and epoll: a wake-up costs the sockets that are
  // ready, not a poll() over every connection as curl_multi_poll() would.
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    return absl::InternalError(absl::StrCat("epoll/eventfd: ", std::strerror(errno)));
  }
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Engine::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Engine::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  if (options_.max_connections_per_host > 0) {
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(options_.max_connections_per_host));
  }
  curl_slist* connect_to = nullptr;
  for (const std::string& entry : options_.connect_to) {
    connect_to = curl_slist_append(connect_to, entry.c_str());
  }
  connect_to_ = connect_to;
  random_state_ =
      static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) ^ reinterpret_cast<uintptr_t>(this);
  return absl::OkStatus();
}

HttpClient::Engine::~Engine() {
  // After Run() returned (joined, or on the I/O thread as it exits): no transfer is left.
  for (CURL* easy : idle_handles_) curl_easy_cleanup(easy);
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
  if (share_ != nullptr) curl_share_cleanup(share_);
  curl_slist_free_all(connect_to_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

int HttpClient::Engine::OnSocket(CURL*, curl_socket_t fd, int what, void* user, void*) {
  auto* engine = static_cast<Engine*>(user);
  if (what == CURL_POLL_REMOVE) {
    // Before curl closes the socket, or when no transfer uses it (an idle kept-alive one).
    epoll_ctl(engine->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    engine->watched_.erase(fd);
    return 0;
  }
  const uint32_t events =
      ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  auto [it, added] = engine->watched_.try_emplace(fd, events);
  if (!added && it->second == events) return 0;
  it->second = events;
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  if (epoll_ctl(engine->epoll_fd_, added ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event) != 0) {
    // The socket was closed and its number reused without a REMOVE: register it afresh.
    epoll_ctl(engine->epoll_fd_, added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event);
  }
  return 0;
}

int HttpClient::Engine::OnTimer(CURLM*, long timeout_ms, void* user) {
  auto* engine = static_cast<Engine*>(user);
  engine->curl_deadline_ =
      timeout_ms < 0 ? absl::InfiniteFuture() : absl::Now() + absl::Milliseconds(timeout_ms);
  return 0;
}

void HttpClient::Engine::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = write(wake_fd_, &one, sizeof one);
}

void HttpClient::Engine::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
}

void HttpClient::Engine::Enqueue(HttpRequest request, Callback done) {
  {
    MutexLock lock(&mu_);
    if (!stopping_) {
      ++stats_.requests;
      ++stats_.in_flight;
      stats_.peak_in_flight = std::max(stats_.peak_in_flight, stats_.in_flight);
      queue_.push_back(Queued{std::move(request), std::move(done)});
      request = HttpRequest();
      done = nullptr;
    }
  }
  if (done != nullptr) {  // Shutting down: nothing will run it on the I/O thread.
    done(absl::CancelledError("HTTP client is shutting down"));
    return;
  }
  // An awake I/O thread takes the request before it sleeps again (see Run()).
  if (sleeping_.load()) Wake();
}

absl::StatusOr<HttpResponse> HttpClient::FetchAndWait(HttpRequest request) {
  DL_CHECK(std::this_thread::get_id() != thread_.get_id());
  // dataloader::Mutex rather than absl::Notification: visible to ThreadSanitizer.
  struct Wait {
    Mutex mu;
    std::optional<absl::StatusOr<HttpResponse>> result ABSL_GUARDED_BY(mu);
  };
  auto wait = std::make_shared<Wait>();
  Fetch(std::move(request), [wait](absl::StatusOr<HttpResponse> result) {
    MutexLock lock(&wait->mu);
    wait->result = std::move(result);
  });
  MutexLock lock(&wait->mu);
  wait->mu.Await(absl::Condition(
      +[](std::optional<absl::StatusOr<HttpResponse>>* result) { return result->has_value(); },
      &wait->result));
  return *std::move(wait->result);
}

uint64_t HttpClient::Engine::NextRandom() {  // splitmix64: enough for jitter.
  uint64_t z = (random_state_ += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

void HttpClient::Engine::RunCallbacks(std::vector<std::unique_ptr<Transfer>>& finished) {
  if (finished.empty()) return;
  for (std::unique_ptr<Transfer>& transfer : finished) {
    transfer->done(*std::move(transfer->result));
  }
  // A request stays in flight (Stats()) until its callback has run and been destroyed, with
  // whatever it captured: once in_flight is 0, this thread holds nothing of its callers'.
  const int64_t count = static_cast<int64_t>(finished.size());
  finished.clear();
  MutexLock lock(&mu_);
  stats_.in_flight -= count;
}

void HttpClient::Engine::Run() {
  std::vector<std::unique_ptr<Transfer>> finished;
  auto run_callbacks = [this, &finished] { RunCallbacks(finished); };
  for (;;) {
    std::deque<Queued> incoming;
    bool stopping = false;
    {
      MutexLock lock(&mu_);
      incoming.swap(queue_);
      stopping = stopping_;
    }
    for (Queued& queued : incoming) {
      auto transfer = std::make_unique<Transfer>();
      transfer->id = next_id_++;
      transfer->request = std::move(queued.request);
      transfer->done = std::move(queued.done);
      Transfer& added = *transfer;
      transfers_.emplace(added.id, std::move(transfer));
      StartAttempt(added);
    }
    if (stopping) break;
    int running = 0;
    if (absl::Now() >= curl_deadline_) {
      curl_deadline_ = absl::InfiniteFuture();  // The call may set a new one.
      curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    Reap(finished);
    StartDueRetries(absl::Now());
    AbortCancelled(finished);
    run_callbacks();
    // Announce the sleep, then look at the queue once more: an Enqueue() that did not see
    // sleeping_ pushed before this check and is taken at once (no lost wake-up).
    sleeping_.store(true);
    bool queued = false;
    {
      MutexLock lock(&mu_);
      queued = !queue_.empty() || stopping_;
    }
    epoll_event events[64];
    const int ready = epoll_wait(epoll_fd_, events, 64, queued ? 0 : NextWaitMillis(absl::Now()));
    sleeping_.store(false);
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t count = 0;
        [[maybe_unused]] const ssize_t got = read(wake_fd_, &count, sizeof count);
        continue;
      }
      const uint32_t flags = events[i].events;
      const int mask = ((flags & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                       ((flags & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                       ((flags & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
      curl_multi_socket_action(multi_, fd, mask, &running);
    }
    Reap(finished);
    run_callbacks();
  }
  // Shutting down: every request still here ends Cancelled (its handle released as usual).
  std::vector<Transfer*> left;
  for (auto& [id, transfer] : transfers_) left.push_back(transfer.get());
  for (Transfer* transfer : left) {
    Detach(*transfer);
    Complete(*transfer,
             absl::CancelledError(
                 absl::StrCat("GET ", RedactUrl(transfer->request.url), ": HTTP client shut down")),
             finished);
  }
  run_callbacks();
}

void HttpClient::Engine::StartAttempt(Transfer& transfer) {
  const HttpRequest& request = transfer.request;
  if (transfer.easy == nullptr) {
    if (!absl::StartsWith(request.url, "http://") && !absl::StartsWith(request.url, "https://")) {
      std::vector<std::unique_ptr<Transfer>> finished;
      Complete(transfer,
               absl::InvalidArgumentError(absl::StrCat("'", RedactUrl(request.url),
                                                       "' is not an http:// or https:// URL")),
               finished);
      RunCallbacks(finished);
      return;
    }
    if (request.range.has_value() &&
        (request.range->offset < 0 || request.range->length == 0 || request.range->length < -1)) {
      std::vector<std::unique_ptr<Transfer>> finished;
      Complete(transfer,
               absl::InvalidArgumentError(absl::StrCat(
                   "bad byte range: offset ", request.range->offset, ", length ",
                   request.range->length, " (offset >= 0, length >= 1 or -1 for the rest)")),
               finished);
      RunCallbacks(finished);
      return;
    }
    CURL* easy = nullptr;
    if (!idle_handles_.empty()) {
      easy = idle_handles_.back();
      idle_handles_.pop_back();
    } else {
      easy = curl_easy_init();
    }
    transfer.easy = easy;
    curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &transfer);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &WriteBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &ReadHeader);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error_buffer);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.request_timeout)));
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_SHARE, share_);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (connect_to_ != nullptr) curl_easy_setopt(easy, CURLOPT_CONNECT_TO, connect_to_);
    curl_slist* headers = nullptr;
    for (const std::string& header : request.headers) {
      headers = curl_slist_append(headers, header.c_str());
    }
    if (request.range.has_value()) {
      const ByteRange& range = *request.range;
      headers = curl_slist_append(
          headers, range.length < 0 ? absl::StrCat("Range: bytes=", range.offset, "-").c_str()
                                    : absl::StrCat("Range: bytes=", range.offset, "-",
                                                   range.offset + range.length - 1)
                                          .c_str());
    }
    transfer.headers = headers;
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    if (request.sigv4.has_value()) {
      const AwsSigV4& sigv4 = *request.sigv4;
      transfer.sigv4_scope = absl::StrCat("aws:amz:", sigv4.region, ":", sigv4.service);
      curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, transfer.sigv4_scope.c_str());
      curl_easy_setopt(easy, CURLOPT_USERNAME, sigv4.access_key_id.c_str());
      curl_easy_setopt(easy, CURLOPT_PASSWORD, sigv4.secret_access_key.c_str());
      // The signature covers the path as sent: curl must not normalise "./" or "../" in keys.
      curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
    } else {
      curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
      curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
  }
  transfer.response.body.clear();
  transfer.too_large = false;
  transfer.reserved = false;
  transfer.retry_after = absl::ZeroDuration();
  transfer.range_total = -1;
  transfer.error_buffer[0] = '\0';
  ++transfer.response.attempts;
  {
    MutexLock lock(&mu_);
    ++stats_.attempts;
    if (transfer.response.attempts > 1) ++stats_.retries;
  }
  curl_multi_add_handle(multi_, transfer.easy);
}

void HttpClient::Engine::Reap(std::vector<std::unique_ptr<Transfer>>& finished) {
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    char* user = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &user);
    const CURLcode code = message->data.result;  // Read before the handle is removed.
    auto* transfer = reinterpret_cast<Transfer*>(user);
    curl_multi_remove_handle(multi_, transfer->easy);
    FinishAttempt(*transfer, code, finished);
  }
}

void HttpClient::Engine::FinishAttempt(Transfer& transfer, CURLcode code,
                                       std::vector<std::unique_ptr<Transfer>>& finished) {
  long connects = 0;
  curl_easy_getinfo(transfer.easy, CURLINFO_NUM_CONNECTS, &connects);
  if (connects > 0) {
    MutexLock lock(&mu_);
    stats_.connections_opened += connects;
  }
  const int attempts = transfer.response.attempts;
  const bool can_retry = attempts < options_.retry.max_attempts;
  const std::string what = absl::StrCat("GET ", RedactUrl(transfer.request.url));
  auto schedule_retry = [&](absl::Duration wait) {
    transfer.waiting = true;
    transfer.retry_entry = retries_.emplace(absl::Now() + wait, transfer.id);
  };
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(transfer.easy, CURLINFO_RESPONSE_CODE, &status);
    if (IsRetryableHttpStatus(static_cast<int>(status)) && can_retry) {
      schedule_retry(options_.retry.BackoffWithHint(attempts, NextRandom(), transfer.retry_after));
      return;
    }
    HttpResponse& response = transfer.response;
    response.status = static_cast<int>(status);
    if (status == 206) {
      response.resource_size = transfer.range_total;
    } else if (status == 200) {
      response.resource_size = static_cast<int64_t>(response.body.size());
      if (transfer.request.range.has_value()) {
        // The server ignored the range and sent everything: keep the asked-for bytes.
        const ByteRange& range = *transfer.request.range;
        const int64_t size = static_cast<int64_t>(response.body.size());
        const int64_t begin = std::min(range.offset, size);
        const int64_t end = range.length < 0 ? size : std::min(size, begin + range.length);
        response.body =
            std::vector<uint8_t>(response.body.begin() + begin, response.body.begin() + end);
      }
    }
    Complete(transfer, std::move(response), finished);
    return;
  }
  if (code == CURLE_WRITE_ERROR && transfer.too_large) {
    Complete(transfer,
             absl::InvalidArgumentError(absl::StrCat(what, ": body is larger than max_bytes ",
                                                     transfer.request.max_body_bytes)),
             finished);
    return;
  }
  const std::string detail =
      transfer.error_buffer[0] != '\0'
          ? absl::StrCat(curl_easy_strerror(code), ": ", transfer.error_buffer)
          : std::string(curl_easy_strerror(code));
  if (IsRetryableCurlCode(code) && can_retry) {
    schedule_retry(options_.retry.Backoff(attempts, NextRandom()));
    return;
  }
  if (IsUrlError(code)) {
    Complete(transfer, absl::InvalidArgumentError(absl::StrCat(what, ": ", detail)), finished);
    return;
  }
  Complete(transfer,
           absl::UnavailableError(absl::StrCat(what, ": ", detail, " (after ", attempts,
                                               attempts == 1 ? " attempt)" : " attempts)")),
           finished);
}

void HttpClient::Engine::Detach(Transfer& transfer) {
  if (transfer.waiting) {
    retries_.erase(transfer.retry_entry);
    transfer.waiting = false;
  } else if (transfer.easy != nullptr && !transfer.result.has_value()) {
    curl_multi_remove_handle(multi_, transfer.easy);  // A no-op if not added.
  }
}

void HttpClient::Engine::Complete(Transfer& transfer, absl::StatusOr<HttpResponse> result,
                                  std::vector<std::unique_ptr<Transfer>>& finished) {
  {
    MutexLock lock(&mu_);
    if (result.ok()) {
      ++stats_.responses;
    } else if (absl::IsCancelled(result.status())) {
      ++stats_.cancelled;
    } else {
      ++stats_.failures;
    }
  }
  transfer.result = std::move(result);
  if (transfer.easy != nullptr) {
    // The handle goes back to the pool; the connection stays in the multi handle's cache.
    curl_easy_reset(transfer.easy);
    idle_handles_.push_back(transfer.easy);
    transfer.easy = nullptr;
  }
  curl_slist_free_all(transfer.headers);
  transfer.headers = nullptr;
  auto it = transfers_.find(transfer.id);
  DL_CHECK(it != transfers_.end());
  finished.push_back(std::move(it->second));
  transfers_.erase(it);
}

void HttpClient::Engine::StartDueRetries(absl::Time now) {
  while (!retries_.empty() && retries_.begin()->first <= now) {
    const uint64_t id = retries_.begin()->second;
    retries_.erase(retries_.begin());
    Transfer& transfer = *transfers_.at(id);
    transfer.waiting = false;
    StartAttempt(transfer);
  }
}

void HttpClient::Engine::AbortCancelled(std::vector<std::unique_ptr<Transfer>>& finished) {
  std::vector<Transfer*> cancelled;
  for (auto& [id, transfer] : transfers_) {
    if (transfer->request.cancel.IsCancelled()) cancelled.push_back(transfer.get());
  }
  for (Transfer* transfer : cancelled) {
    Detach(*transfer);
    Complete(
        *transfer,
        absl::CancelledError(absl::StrCat("GET ", RedactUrl(transfer->request.url), ": cancelled")),
        finished);
  }
}

int HttpClient::Engine::NextWaitMillis(absl::Time now) const {
  int64_t wait = 1000;
  if (curl_deadline_ != absl::InfiniteFuture()) {
    wait = static_cast<int64_t>(std::ceil(absl::ToDoubleMilliseconds(curl_deadline_ - now)));
  }
  if (!retries_.empty()) {
    const int64_t until_retry =
        static_cast<int64_t>(std::ceil(absl::ToDoubleMilliseconds(retries_.begin()->first - now)));
    wait = std::min(wait, std::max<int64_t>(0, until_retry));
  }
  if (!transfers_.empty()) {
    wait = std::min(wait,
                    std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.cancel_poll_interval)));
  }
  return static_cast<int>(std::clamp<int64_t>(wait, 0, 1000));  // epoll's timeout: whole ms.
}

}  // namespace dataloader::server::io
