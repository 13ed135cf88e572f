// Copyright 2026 The dataloader Authors.
//
// HttpClient against a real HTTP server on 127.0.0.1 (TestHttpServer) that injects latency and
// faults: 503s, resets, slow and truncated bodies, 404s. Times in these tests are bounds that a
// broken client would blow by far (a cancel that is never honoured waits out a 30 s response),
// not speed measurements.
#include "server/io/http_client.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/cancellation.h"
#include "core/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/io/test_http_server.h"

namespace dataloader::server::io {
namespace {

using ::dataloader::server::testing::TestHttpServer;
using ::testing::HasSubstr;
using ::testing::Not;

// Quick retries so that tests of giving up stay short.
HttpClientOptions FastRetries(int max_attempts = 3) {
  HttpClientOptions options;
  options.retry = {.max_attempts = max_attempts,
                   .initial_backoff = absl::Milliseconds(5),
                   .max_backoff = absl::Milliseconds(20)};
  options.connect_timeout = absl::Seconds(5);
  options.request_timeout = absl::Seconds(10);
  return options;
}

std::unique_ptr<HttpClient> MakeClient(HttpClientOptions options = FastRetries()) {
  absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

std::unique_ptr<TestHttpServer> MakeServer(TestHttpServer::Handler handler) {
  absl::StatusOr<std::unique_ptr<TestHttpServer>> server =
      TestHttpServer::Start(std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status();
  return *std::move(server);
}

std::string Text(const HttpResponse& response) {
  return std::string(response.body.begin(), response.body.end());
}

TEST(HttpClientTest, FetchesAResponse) {
  auto server = MakeServer([](const TestHttpServer::Request& request) {
    TestHttpServer::Response response;
    response.body = absl::StrCat("you asked for ", request.path);
    return response;
  });
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = server->Url("/a/b.jpg")});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(Text(*response), "you asked for /a/b.jpg");
  EXPECT_EQ(response->resource_size, 22);
  EXPECT_EQ(response->attempts, 1);
}

TEST(HttpClientTest, NotFoundIsAnAnswerAndIsNotRetried) {
  auto server = MakeServer([](const TestHttpServer::Request&) {
    return TestHttpServer::Response{.status = 404, .body = "no such thing"};
  });
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = server->Url("/missing")});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->attempts, 1);
  EXPECT_EQ(server->requests(), 1);
}

TEST(HttpClientTest, RetriesServiceUnavailableThenSucceeds) {
  std::atomic<int> calls{0};
  auto server = MakeServer([&](const TestHttpServer::Request&) {
    if (calls.fetch_add(1) < 2) return TestHttpServer::Response{.status = 503, .body = "busy"};
    return TestHttpServer::Response{.body = "finally"};
  });
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = server->Url("/x")});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(Text(*response), "finally");
  EXPECT_EQ(response->attempts, 3);
  EXPECT_EQ(client->Stats().retries, 2);
}

TEST(HttpClientTest, TooManyRequestsIsRetried) {
  std::atomic<int> calls{0};
  auto server = MakeServer([&](const TestHttpServer::Request&) {
    if (calls.fetch_add(1) == 0) {
      return TestHttpServer::Response{.status = 429, .headers = {{"Retry-After", "0"}}};
    }
    return TestHttpServer::Response{.body = "ok"};
  });
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = server->Url("/x")});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->attempts, 2);
}

TEST(HttpClientTest, GivesUpOnPersistentServerErrorsAfterTheAttempts) {
  auto server = MakeServer([](const TestHttpServer::Request&) {
    return TestHttpServer::Response{.status = 500, .body = "broken"};
  });
  auto client = MakeClient(FastRetries(4));
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = server->Url("/x")});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->attempts, 4);
  EXPECT_EQ(server->requests(), 4);
}

TEST(HttpClientTest, ConnectionResetIsRetried) {
  std::atomic<int> calls{0};
  auto server = MakeServer([&](const TestHttpServer::Request&) {
    TestHttpServer::Response response{.body = "after the reset"};
    if (calls.fetch_add(1) == 0) response.fault = TestHttpServer::Fault::kReset;
    return response;
  });
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = server->Url("/x")});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(Text(*response), "after the reset");
  EXPECT_GE(response->attempts, 2);
}

TEST(HttpClientTest, ResetEveryTimeEndsUnavailableNamingTheUrlAndAttempts) {
  auto server = MakeServer([](const TestHttpServer::Request&) {
    return TestHttpServer::Response{.fault = TestHttpServer::Fault::kReset};
  });
  auto client = MakeClient(FastRetries(3));
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = server->Url("/gone")});
  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(absl::IsUnavailable(response.status())) << response.status();
  EXPECT_THAT(response.status().message(), HasSubstr("/gone"));
  EXPECT_THAT(response.status().message(), HasSubstr("after 3 attempts"));
}

TEST(HttpClientTest, TruncatedBodyIsRetried) {
  std::atomic<int> calls{0};
  auto server = MakeServer([&](const TestHttpServer::Request&) {
    TestHttpServer::Response response{.body = std::string(10000, 'x')};
    if (calls.fetch_add(1) == 0) response.fault = TestHttpServer::Fault::kTruncateBody;
    return response;
  });
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = server->Url("/x")});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body.size(), 10000u);
  EXPECT_EQ(response->attempts, 2);
}

TEST(HttpClientTest, StoreThatWentAwayEndsUnavailable) {
  auto server =
      MakeServer([](const TestHttpServer::Request&) { return TestHttpServer::Response{}; });
  const std::string url = server->Url("/x");
  server->Stop();  // Connections to the port are refused from now on.
  auto client = MakeClient(FastRetries(3));
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = url});
  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(absl::IsUnavailable(response.status())) << response.status();
  EXPECT_THAT(response.status().message(), HasSubstr("after 3 attempts"));
  EXPECT_EQ(client->Stats().attempts, 3);
}

TEST(HttpClientTest, SlowBodyWithinTheTimeoutArrivesWhole) {
  auto server = MakeServer([](const TestHttpServer::Request&) {
    return TestHttpServer::Response{.body = std::string(1000, 'y'),
                                    .chunk_bytes = 100,
                                    .chunk_interval = absl::Milliseconds(5)};
  });
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = server->Url("/slow")});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, std::vector<uint8_t>(1000, 'y'));
}

TEST(HttpClientTest, BodySlowerThanTheRequestTimeoutFailsAfterTheAttempts) {
  auto server = MakeServer([](const TestHttpServer::Request&) {
    // 10 bytes every 100 ms: 10 s for the body, against a 300 ms limit.
    return TestHttpServer::Response{.body = std::string(1000, 'z'),
                                    .chunk_bytes = 10,
                                    .chunk_interval = absl::Milliseconds(100)};
  });
  HttpClientOptions options = FastRetries(2);
  options.request_timeout = absl::Milliseconds(300);
  auto client = MakeClient(options);
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = server->Url("/trickle")});
  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(absl::IsUnavailable(response.status())) << response.status();
  EXPECT_THAT(response.status().message(), HasSubstr("imeout"));
  EXPECT_EQ(server->requests(), 2);
}

TEST(HttpClientTest, ByteRangeGetsThePartAndTheResourceSize) {
  const std::string content = "0123456789abcdefghij";
  auto server = MakeServer([&](const TestHttpServer::Request& request) {
    return TestHttpServer::Bytes(request, content);
  });
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response = client->FetchAndWait(
      {.url = server->Url("/r"), .range = ByteRange{.offset = 5, .length = 4}});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 206);
  EXPECT_EQ(Text(*response), "5678");
  EXPECT_EQ(response->resource_size, 20);
  response = client->FetchAndWait({.url = server->Url("/r"), .range = ByteRange{.offset = 15}});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(Text(*response), "fghij");
}

TEST(HttpClientTest, ServerIgnoringTheRangeStillYieldsTheAskedForBytes) {
  auto server = MakeServer([](const TestHttpServer::Request&) {
    return TestHttpServer::Response{.body = "0123456789"};
  });
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response = client->FetchAndWait(
      {.url = server->Url("/r"), .range = ByteRange{.offset = 2, .length = 3}});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(Text(*response), "234");
  EXPECT_EQ(response->resource_size, 10);
}

TEST(HttpClientTest, BodyOverTheLimitFailsWithoutRetrying) {
  auto server = MakeServer([](const TestHttpServer::Request&) {
    return TestHttpServer::Response{.body = std::string(5000, 'b')};
  });
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response =
      client->FetchAndWait({.url = server->Url("/big"), .max_body_bytes = 1000});
  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(response.status())) << response.status();
  EXPECT_THAT(response.status().message(), HasSubstr("max_bytes 1000"));
  EXPECT_EQ(server->requests(), 1);
}

TEST(HttpClientTest, KeepAliveReusesOneConnection) {
  auto server = MakeServer(
      [](const TestHttpServer::Request&) { return TestHttpServer::Response{.body = "again"}; });
  auto client = MakeClient();
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<HttpResponse> response =
        client->FetchAndWait({.url = server->Url(absl::StrCat("/", i))});
    ASSERT_TRUE(response.ok()) << response.status();
  }
  EXPECT_EQ(server->connections_accepted(), 1);
  EXPECT_EQ(client->Stats().connections_opened, 1);
}

TEST(HttpClientTest, ConcurrentRequestsAreAllInFlightAtOnceWithoutThreads) {
  // 64 requests issued from one thread, each answered after 200 ms: the server sees 64
  // connections (one after the other, keep-alive would have used one), so all were in flight
  // at once, and the client has only its one I/O thread.
  constexpr int kRequests = 64;
  auto server = MakeServer([](const TestHttpServer::Request&) {
    return TestHttpServer::Response{.body = "x", .delay = absl::Milliseconds(200)};
  });
  auto client = MakeClient();
  struct Done {
    Mutex mu;
    int count ABSL_GUARDED_BY(mu) = 0;
    int ok ABSL_GUARDED_BY(mu) = 0;
  } done;
  for (int i = 0; i < kRequests; ++i) {
    client->Fetch({.url = server->Url(absl::StrCat("/", i))},
                  [&done](absl::StatusOr<HttpResponse> response) {
                    MutexLock lock(&done.mu);
                    ++done.count;
                    if (response.ok() && response->status == 200) ++done.ok;
                  });
  }
  MutexLock lock(&done.mu);
  ASSERT_TRUE(
      done.mu.AwaitWithTimeout(absl::Condition(
                                   +[](int* count) { return *count == kRequests; }, &done.count),
                               absl::Seconds(30)));
  EXPECT_EQ(done.ok, kRequests);
  EXPECT_EQ(client->Stats().peak_in_flight, kRequests);
  EXPECT_EQ(server->connections_accepted(), kRequests);
}

TEST(HttpClientTest, CancelAbortsARunningTransferPromptly) {
  std::atomic<int> arrived{0};
  auto server = MakeServer([&](const TestHttpServer::Request&) {
    arrived.fetch_add(1);
    return TestHttpServer::Response{.body = "too late", .delay = absl::Seconds(30)};
  });
  auto client = MakeClient();
  CancellationSource cancel;
  struct Result {
    Mutex mu;
    std::optional<absl::Status> status ABSL_GUARDED_BY(mu);
  } result;
  client->Fetch({.url = server->Url("/slow"), .cancel = cancel.token()},
                [&result](absl::StatusOr<HttpResponse> response) {
                  MutexLock lock(&result.mu);
                  result.status = response.status();
                });
  for (int i = 0; i < 500 && arrived.load() == 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(arrived.load(), 1);
  const absl::Time cancelled_at = absl::Now();
  cancel.Cancel();
  MutexLock lock(&result.mu);
  ASSERT_TRUE(result.mu.AwaitWithTimeout(
      absl::Condition(
          +[](std::optional<absl::Status>* s) { return s->has_value(); }, &result.status),
      absl::Seconds(10)));
  EXPECT_TRUE(absl::IsCancelled(*result.status)) << *result.status;
  EXPECT_LT(absl::Now() - cancelled_at, absl::Seconds(5));  // Not the 30 s response.
  EXPECT_EQ(client->Stats().cancelled, 1);
}

TEST(HttpClientTest, ShutdownCancelsWhatIsInFlight) {
  auto server = MakeServer([](const TestHttpServer::Request&) {
    return TestHttpServer::Response{.delay = absl::Seconds(30)};
  });
  auto client = MakeClient();
  std::atomic<int> cancelled{0};
  for (int i = 0; i < 4; ++i) {
    client->Fetch({.url = server->Url("/x")}, [&](absl::StatusOr<HttpResponse> response) {
      if (absl::IsCancelled(response.status())) cancelled.fetch_add(1);
    });
  }
  client.reset();
  EXPECT_EQ(cancelled.load(), 4);
}

TEST(HttpClientTest, ClientMayBeDestroyedFromItsOwnCallback) {
  // A stream's last reference to its store can go with a sample in a callback.
  auto server = MakeServer(
      [](const TestHttpServer::Request&) { return TestHttpServer::Response{.body = "x"}; });
  auto owner = std::make_shared<std::unique_ptr<HttpClient>>(MakeClient());
  struct Done {
    Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
  };
  auto done = std::make_shared<Done>();
  HttpClient* client = owner->get();
  client->Fetch({.url = server->Url("/x")}, [owner, done](absl::StatusOr<HttpResponse>) {
    owner->reset();  // Destroys the client on its own I/O thread.
    MutexLock lock(&done->mu);
    done->done = true;
  });
  MutexLock lock(&done->mu);
  EXPECT_TRUE(done->mu.AwaitWithTimeout(absl::Condition(&done->done), absl::Seconds(30)));
}

TEST(HttpClientTest, RefusesOtherSchemesAndBadRanges) {
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = "file:///etc/passwd"});
  EXPECT_TRUE(absl::IsInvalidArgument(response.status())) << response.status();
  response = client->FetchAndWait(
      {.url = "http://127.0.0.1:1/x", .range = ByteRange{.offset = 0, .length = 0}});
  EXPECT_TRUE(absl::IsInvalidArgument(response.status())) << response.status();
}

TEST(HttpClientTest, FollowsRedirectsForUnsignedRequests) {
  auto server = MakeServer([](const TestHttpServer::Request& request) {
    if (request.path == "/old") {
      return TestHttpServer::Response{.status = 302, .headers = {{"Location", "/new"}}};
    }
    return TestHttpServer::Response{.body = "moved here"};
  });
  auto client = MakeClient();
  absl::StatusOr<HttpResponse> response = client->FetchAndWait({.url = server->Url("/old")});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(Text(*response), "moved here");
}

TEST(HttpClientTest, MessagesNeverCarryCredentials) {
  auto client = MakeClient(FastRetries(1));
  absl::StatusOr<HttpResponse> response = client->FetchAndWait(
      {.url = "http://alice:hunter2@127.0.0.1:1/x?X-Amz-Signature=abc123&part=7"});
  ASSERT_FALSE(response.ok());
  EXPECT_THAT(response.status().message(), Not(HasSubstr("hunter2")));
  EXPECT_THAT(response.status().message(), Not(HasSubstr("abc123")));
  EXPECT_THAT(response.status().message(), HasSubstr("part=7"));
}

TEST(HttpClientTest, RedactUrlRemovesUserInfoAndSecretsOnly) {
  EXPECT_EQ(RedactUrl("https://user:pw@host:8/a/b?x=1&token=s3cr3t&Signature=q#f"),
            "https://REDACTED@host:8/a/b?x=1&token=REDACTED&Signature=REDACTED#f");
  EXPECT_EQ(RedactUrl("s3://bucket/a@b/c.jpg"), "s3://bucket/a@b/c.jpg");
  EXPECT_EQ(RedactUrl("http://host/plain"), "http://host/plain");
}

TEST(HttpClientTest, CreateRefusesBadOptions) {
  HttpClientOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::Create(options);
  EXPECT_TRUE(absl::IsInvalidArgument(client.status()));
  EXPECT_THAT(client.status().message(), HasSubstr("/nonexistent/ca.pem"));
  options = HttpClientOptions();
  options.retry.max_attempts = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(HttpClient::Create(options).status()));
}

}  // namespace
}  // namespace dataloader::server::io
