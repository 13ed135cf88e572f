// Copyright 2026 The dataloader Authors.
//
// S3Client: signing checked against AWS's published example and a signature-verifying server,
// addressing, error mapping, and ListObjectsV2 / GetObject against a real S3 API server
// (s3rver, started by the test on 127.0.0.1).
#include "server/io/s3_client.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "core/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/io/s3rver.h"
#include "tests/server/io/sigv4_verifier.h"
#include "tests/server/io/test_http_server.h"

namespace dataloader::server::io {
namespace {

using ::dataloader::server::testing::S3rver;
using ::dataloader::server::testing::TestHttpServer;
using ::dataloader::server::testing::VerifySigV4;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// AWS's example credentials (docs: "Signature Calculations for the Authorization Header").
constexpr char kExampleKeyId[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kExampleSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

std::shared_ptr<HttpClient> MakeHttp(HttpClientOptions options = {}) {
  options.retry = {.max_attempts = 2,
                   .initial_backoff = absl::Milliseconds(5),
                   .max_backoff = absl::Milliseconds(10)};
  absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

std::unique_ptr<S3Client> MakeS3(S3Options options, std::shared_ptr<HttpClient> http) {
  absl::StatusOr<std::unique_ptr<S3Client>> s3 = S3Client::Create(std::move(options), http);
  EXPECT_TRUE(s3.ok()) << s3.status();
  return *std::move(s3);
}

std::string Text(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST(S3ClientTest, AwsUriEncodeKeepsOnlyUnreservedBytes) {
  EXPECT_EQ(AwsUriEncode("a b/c+d~e.f_g-h", /*keep_slash=*/true), "a%20b/c%2Bd~e.f_g-h");
  EXPECT_EQ(AwsUriEncode("a b/c", /*keep_slash=*/false), "a%20b%2Fc");
  EXPECT_EQ(AwsUriEncode("\xC3\xA9=&?", false), "%C3%A9%3D%26%3F");
}

// The GetObject example of AWS's S3 API reference, byte for byte: GET /test.txt from
// examplebucket (virtual-host), Range bytes=0-9, at 20130524T000000Z. The request goes to a
// local server (CONNECT_TO) that records what arrived.
TEST(S3ClientTest, SignsGetObjectExactlyAsAwsDocumentsIt) {
  Mutex mu;
  std::map<std::string, std::string> seen;
  auto server = *TestHttpServer::Start([&](const TestHttpServer::Request& request) {
    MutexLock lock(&mu);
    seen = request.headers;
    seen["target"] = request.target;
    return TestHttpServer::Response{.status = 206, .body = "0123456789"};
  });
  HttpClientOptions http_options;
  http_options.connect_to = {
      absl::StrCat("examplebucket.s3.amazonaws.com:80:127.0.0.1:", server->port())};
  auto s3 = MakeS3(
      {.endpoint = "http://s3.amazonaws.com",
       .region = "us-east-1",
       .path_style = false,
       .credentials = {.access_key_id = kExampleKeyId, .secret_access_key = kExampleSecret},
       .clock =
           [] { return absl::FromCivil(absl::CivilSecond(2013, 5, 24), absl::UTCTimeZone()); }},
      MakeHttp(http_options));
  HttpRequest request =
      s3->GetObjectRequest("examplebucket", "test.txt", ByteRange{.offset = 0, .length = 10});
  EXPECT_EQ(request.url, "http://examplebucket.s3.amazonaws.com/test.txt");
  absl::StatusOr<HttpResponse> response = s3->http().FetchAndWait(std::move(request));
  ASSERT_TRUE(response.ok()) << response.status();
  MutexLock lock(&mu);
  EXPECT_EQ(seen["host"], "examplebucket.s3.amazonaws.com");
  EXPECT_EQ(seen["target"], "/test.txt");
  EXPECT_EQ(seen["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// A ListObjectsV2 server over TestHttpServer that refuses any request whose SigV4 signature is
// wrong (s3rver does not check signatures), serving `keys` in pages.
class VerifyingListServer {
 public:
  explicit VerifyingListServer(std::vector<std::string> keys, std::string secret)
      : keys_(std::move(keys)), secret_(std::move(secret)) {
    server_ = *TestHttpServer::Start(
        [this](const TestHttpServer::Request& request) { return Handle(request); });
  }
  std::string endpoint() const { return server_->Url(""); }
  int pages() const { return pages_.load(); }
  std::string last_failure() {
    MutexLock lock(&mu_);
    return last_failure_;
  }

 private:
  TestHttpServer::Response Handle(const TestHttpServer::Request& request) {
    if (absl::Status signed_ok = VerifySigV4(request, secret_); !signed_ok.ok()) {
      MutexLock lock(&mu_);
      last_failure_ = std::string(signed_ok.message());
      return {.status = 403,
              .body =
                  "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature "
                  "we calculated does not match</Message></Error>"};
    }
    std::map<std::string, std::string> params;
    for (absl::string_view param : absl::StrSplit(request.query, '&')) {
      std::vector<std::string> kv = absl::StrSplit(param, absl::MaxSplits('=', 1));
      std::string value;
      for (size_t i = 0; i < kv[1].size(); ++i) {  // Percent-decoding.
        if (kv[1][i] == '%') {
          value += absl::HexStringToBytes(kv[1].substr(i + 1, 2));
          i += 2;
        } else {
          value += kv[1][i];
        }
      }
      params[kv[0]] = value;
    }
    const size_t page_size = std::stoul(params["max-keys"]);
    size_t start = 0;
    if (params.count("continuation-token")) {
      // Tokens with characters that need encoding: "t/+=N".
      start = std::stoul(params["continuation-token"].substr(4));
    }
    std::vector<std::string> matching;
    for (const std::string& key : keys_) {
      if (key.rfind(params["prefix"], 0) == 0) matching.push_back(key);
    }
    std::string xml =
        "<?xml version=\"1.0\"?><ListBucketResult "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    const size_t end = std::min(matching.size(), start + page_size);
    for (size_t i = start; i < end; ++i) {
      absl::StrAppend(&xml, "<Contents><Key>", matching[i], "</Key><Size>", i,
                      "</Size></Contents>");
    }
    if (end < matching.size()) {
      absl::StrAppend(&xml, "<IsTruncated>true</IsTruncated><NextContinuationToken>t/+=", end,
                      "</NextContinuationToken>");
    } else {
      absl::StrAppend(&xml, "<IsTruncated>false</IsTruncated>");
    }
    absl::StrAppend(&xml, "</ListBucketResult>");
    ++pages_;
    return {.body = xml};
  }

  const std::vector<std::string> keys_;
  const std::string secret_;
  std::unique_ptr<TestHttpServer> server_;
  std::atomic<int> pages_{0};
  Mutex mu_;
  std::string last_failure_ ABSL_GUARDED_BY(mu_);
};

TEST(S3ClientTest, ListingPagesAreSignedCorrectlyWithTokensAndOddPrefixes) {
  std::vector<std::string> keys;
  for (int i = 0; i < 23; ++i) keys.push_back(absl::StrCat("train set/é+", i % 3, "/", 100 + i));
  keys.push_back("other/1");
  VerifyingListServer server(keys, kExampleSecret);
  auto s3 =
      MakeS3({.endpoint = server.endpoint(),
              .path_style = true,
              .credentials = {.access_key_id = kExampleKeyId, .secret_access_key = kExampleSecret}},
             MakeHttp());
  absl::StatusOr<std::vector<S3Object>> objects =
      s3->ListObjects("bucket", "train set/", /*page_size=*/5);
  ASSERT_TRUE(objects.ok()) << objects.status() << "\n" << server.last_failure();
  ASSERT_EQ(objects->size(), 23u);
  EXPECT_EQ((*objects)[0].key, "train set/é+0/100");
  EXPECT_EQ((*objects)[22].key, "train set/é+1/122");
  EXPECT_EQ((*objects)[7].size, 7);
  EXPECT_EQ(server.pages(), 5);
}

TEST(S3ClientTest, ObjectKeysWithOddCharactersAreSignedCorrectly) {
  std::string failure;
  Mutex mu;
  auto server = *TestHttpServer::Start([&](const TestHttpServer::Request& request) {
    absl::Status ok = VerifySigV4(request, "secret");
    MutexLock lock(&mu);
    failure = std::string(ok.message());
    return TestHttpServer::Response{.status = ok.ok() ? 200 : 403, .body = request.path};
  });
  auto s3 = MakeS3({.endpoint = server->Url(""),
                    .path_style = true,
                    .credentials = {.access_key_id = "KEY",
                                    .secret_access_key = "secret",
                                    .session_token = "a-session-token"}},
                   MakeHttp());
  absl::StatusOr<HttpResponse> response = s3->http().FetchAndWait(
      s3->GetObjectRequest("bucket", "a b/c+d/./x=y&z/é.jpg", std::nullopt));
  ASSERT_TRUE(response.ok()) << response.status();
  MutexLock lock(&mu);
  EXPECT_EQ(response->status, 200) << failure;
  EXPECT_EQ(Text(response->body), "/bucket/a%20b/c%2Bd/./x%3Dy%26z/%C3%A9.jpg");
}

TEST(S3ClientTest, SessionTokenIsSentAndSigned) {
  Mutex mu;
  std::map<std::string, std::string> seen;
  auto server = *TestHttpServer::Start([&](const TestHttpServer::Request& request) {
    MutexLock lock(&mu);
    seen = request.headers;
    return TestHttpServer::Response{.status = VerifySigV4(request, "secret").ok() ? 200 : 403};
  });
  auto s3 = MakeS3({.endpoint = server->Url(""),
                    .path_style = true,
                    .credentials = {.access_key_id = "KEY",
                                    .secret_access_key = "secret",
                                    .session_token = "temporary"}},
                   MakeHttp());
  absl::StatusOr<HttpResponse> response =
      s3->http().FetchAndWait(s3->GetObjectRequest("b", "k", std::nullopt));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  MutexLock lock(&mu);
  EXPECT_EQ(seen["x-amz-security-token"], "temporary");
  EXPECT_THAT(seen["authorization"], HasSubstr("x-amz-security-token"));
  EXPECT_THAT(seen["authorization"], Not(HasSubstr("secret")));
}

TEST(S3ClientTest, AnonymousRequestsAreUnsigned) {
  auto s3 =
      MakeS3({.endpoint = "http://127.0.0.1:1", .path_style = true, .anonymous = true}, MakeHttp());
  HttpRequest request = s3->GetObjectRequest("b", "k", std::nullopt);
  EXPECT_FALSE(request.sigv4.has_value());
  EXPECT_TRUE(request.headers.empty());
}

TEST(S3ClientTest, AddressingStyles) {
  auto path_style = MakeS3({.endpoint = "http://127.0.0.1:9000/",
                            .path_style = true,
                            .credentials = {.access_key_id = "K", .secret_access_key = "S"}},
                           MakeHttp());
  EXPECT_EQ(path_style->GetObjectRequest("bkt", "a/b c.jpg", std::nullopt).url,
            "http://127.0.0.1:9000/bkt/a/b%20c.jpg");
  auto virtual_host = MakeS3(
      {.region = "eu-west-1", .credentials = {.access_key_id = "K", .secret_access_key = "S"}},
      MakeHttp());
  HttpRequest request = virtual_host->GetObjectRequest("bkt", "a/b.jpg", std::nullopt);
  EXPECT_EQ(request.url, "https://bkt.s3.eu-west-1.amazonaws.com/a/b.jpg");
  EXPECT_EQ(request.sigv4->region, "eu-west-1");
}

TEST(S3ClientTest, CreateRefusesBadOptions) {
  const AwsCredentials credentials{.access_key_id = "K", .secret_access_key = "S"};
  EXPECT_THAT(S3Client::Create({.endpoint = "ftp://x", .credentials = credentials}, MakeHttp())
                  .status()
                  .message(),
              HasSubstr("http:// or https://"));
  EXPECT_THAT(
      S3Client::Create({.endpoint = "http://x/path", .credentials = credentials}, MakeHttp())
          .status()
          .message(),
      HasSubstr("no path"));
  EXPECT_THAT(S3Client::Create({.region = "us east", .credentials = credentials}, MakeHttp())
                  .status()
                  .message(),
              HasSubstr("region"));
  EXPECT_THAT(S3Client::Create({}, MakeHttp()).status().message(), HasSubstr("credentials"));
}

TEST(S3ClientTest, ResponseErrorMapsStatusesAndNamesS3sCode) {
  auto response = [](int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body.assign(body.begin(), body.end());
    r.attempts = 5;
    return r;
  };
  absl::Status error = ResponseError(response(
      404,
      "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket "
      "does not exist</Message><BucketName>b</BucketName></Error>"));
  EXPECT_TRUE(absl::IsNotFound(error));
  EXPECT_THAT(error.message(), HasSubstr("HTTP 404 NoSuchBucket"));
  EXPECT_THAT(error.message(), HasSubstr("bucket does not exist"));
  error = ResponseError(response(403, "<Error><Code>AccessDenied</Code></Error>"));
  EXPECT_TRUE(absl::IsPermissionDenied(error));
  EXPECT_THAT(error.message(), HasSubstr("AccessDenied"));
  EXPECT_TRUE(absl::IsOutOfRange(ResponseError(response(416, ""))));
  error = ResponseError(response(503, "<Error><Code>SlowDown</Code></Error>"));
  EXPECT_TRUE(absl::IsUnavailable(error));
  EXPECT_THAT(error.message(), HasSubstr("after 5 attempts"));
  EXPECT_TRUE(absl::IsFailedPrecondition(ResponseError(response(301, ""))));
  EXPECT_TRUE(absl::IsInvalidArgument(ResponseError(response(400, "not xml <Error>"))));
}

// Against s3rver: a real S3 API server.
class S3ClientS3rverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<S3rver>> started = S3rver::Start("data");
    ASSERT_TRUE(started.ok()) << started.status();
    s3rver_ = *std::move(started);
  }
  std::unique_ptr<S3rver> s3rver_;
};

TEST_F(S3ClientS3rverTest, ListsEveryKeyAcrossPagesAndReadsObjectsAndRanges) {
  std::vector<std::string> keys;
  for (int i = 0; i < 12; ++i) {
    keys.push_back(absl::StrCat("train/class ", i % 2, "/img+", i, ".jpg"));
    ASSERT_TRUE(s3rver_->Put("data", keys.back(), absl::StrCat("bytes of ", i)).ok());
  }
  ASSERT_TRUE(s3rver_->Put("data", "val/x.jpg", "other").ok());
  auto s3 = MakeS3(s3rver_->Options(), MakeHttp());
  absl::StatusOr<std::vector<S3Object>> objects = s3->ListObjects("data", "train/", 5);
  ASSERT_TRUE(objects.ok()) << objects.status();
  std::vector<std::string> listed;
  for (const S3Object& object : *objects) listed.push_back(object.key);
  std::sort(keys.begin(), keys.end());
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, keys);

  absl::StatusOr<HttpResponse> response = s3->http().FetchAndWait(
      s3->GetObjectRequest("data", "train/class 1/img+3.jpg", std::nullopt));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(Text(response->body), "bytes of 3");
  response = s3->http().FetchAndWait(
      s3->GetObjectRequest("data", "train/class 1/img+3.jpg", ByteRange{.offset = 6, .length = 2}));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 206);
  EXPECT_EQ(Text(response->body), "of");
  EXPECT_EQ(response->resource_size, 10);
}

TEST_F(S3ClientS3rverTest, MissingObjectIsNotFoundNamingS3sCode) {
  auto s3 = MakeS3(s3rver_->Options(), MakeHttp());
  absl::StatusOr<HttpResponse> response =
      s3->http().FetchAndWait(s3->GetObjectRequest("data", "nope.jpg", std::nullopt));
  ASSERT_TRUE(response.ok()) << response.status();
  const absl::Status error = ResponseError(*response);
  EXPECT_TRUE(absl::IsNotFound(error)) << error;
  EXPECT_THAT(error.message(), HasSubstr("NoSuchKey"));
}

TEST_F(S3ClientS3rverTest, MissingBucketFailsTheListingClearly) {
  auto s3 = MakeS3(s3rver_->Options(), MakeHttp());
  absl::StatusOr<std::vector<S3Object>> objects = s3->ListObjects("no-such-bucket", "train/");
  EXPECT_TRUE(absl::IsNotFound(objects.status())) << objects.status();
  EXPECT_THAT(objects.status().message(), HasSubstr("s3://no-such-bucket/train/"));
  EXPECT_THAT(objects.status().message(), HasSubstr("NoSuchBucket"));
}

TEST_F(S3ClientS3rverTest, WrongCredentialsAreRefusedWithoutShowingTheSecret) {
  S3Options options = s3rver_->Options();
  options.credentials = {.access_key_id = "WRONGKEY", .secret_access_key = "SuperSecretValue"};
  auto s3 = MakeS3(options, MakeHttp());
  absl::StatusOr<std::vector<S3Object>> objects = s3->ListObjects("data", "");
  EXPECT_TRUE(absl::IsPermissionDenied(objects.status())) << objects.status();
  EXPECT_THAT(objects.status().message(), HasSubstr("InvalidAccessKeyId"));
  EXPECT_THAT(objects.status().message(), Not(HasSubstr("SuperSecretValue")));
}

TEST_F(S3ClientS3rverTest, StoreThatIsGoneIsUnavailable) {
  auto s3 = MakeS3(s3rver_->Options(), MakeHttp());
  s3rver_->Kill();
  absl::StatusOr<std::vector<S3Object>> objects = s3->ListObjects("data", "");
  EXPECT_TRUE(absl::IsUnavailable(objects.status())) << objects.status();
}

TEST(S3ClientTlsTest, VerifiesTheStoresCertificateAgainstTheGivenCa) {
  absl::StatusOr<std::unique_ptr<S3rver>> s3rver = S3rver::Start("data", /*tls=*/true);
  ASSERT_TRUE(s3rver.ok()) << s3rver.status();
  HttpClientOptions trusted;
  trusted.ca_file = std::string(DL_TEST_DATA_DIR) + "/tls/ca.pem";
  auto s3 = MakeS3((*s3rver)->Options(), MakeHttp(trusted));
  absl::StatusOr<std::vector<S3Object>> objects = s3->ListObjects("data", "");
  EXPECT_TRUE(objects.ok()) << objects.status();

  HttpClientOptions other_ca;
  other_ca.ca_file = std::string(DL_TEST_DATA_DIR) + "/tls/other_ca.pem";
  for (HttpClientOptions options : {HttpClientOptions(), other_ca}) {
    auto untrusting = MakeS3((*s3rver)->Options(), MakeHttp(options));
    objects = untrusting->ListObjects("data", "");
    EXPECT_TRUE(absl::IsUnavailable(objects.status())) << objects.status();
    EXPECT_THAT(objects.status().message(), HasSubstr("certificate"));
    EXPECT_THAT(objects.status().message(), HasSubstr("after 1 attempt"));  // Not retried.
  }
}

}  // namespace
}  // namespace dataloader::server::io
