// Copyright 2026 The dataloader Authors.
//
// Transport security end to end on 127.0.0.1: TLS, mutual TLS, a client trusting the wrong
// CA, bearer tokens (right, missing, wrong; over TLS and over plaintext), open health checks,
// the refusal of plaintext on a non-loopback address, the configuration errors of server and
// client, and the flags and environment variables of the binaries. The certificates are the
// committed throwaway ones of tests/data/tls (see make_certs.sh there).
#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/batch_stream.h"
#include "client/channel_security.h"
#include "client/client_options.h"
#include "client/list_pipelines.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/service/server_security.h"
#include "tests/client/subprocess.h"
#include "tests/server/service/in_process_server.h"

namespace dataloader::server {
namespace {

using ::dataloader::client::ClientSecurityOptions;
using ::testing::HasSubstr;

constexpr char kConfig[] = R"pb(
  pipelines {
    name: "small"
    synthetic { num_samples: 40 height: 4 width: 5 channels: 3 num_classes: 7 }
    stages { op: "normalize" }
    batch_size: 8
  }
)pb";
constexpr char kToken[] = "s3cret-Token_0123456789";

std::string Tls(const std::string& name) { return absl::StrCat(DL_TEST_DATA_DIR, "/tls/", name); }

// A directory of this process for token files (ctest runs the cases of this binary as
// parallel processes), removed when the tests end.
class TempDirectory : public ::testing::Environment {
 public:
  static const std::string& Path() {
    static const std::string* const path = [] {
      std::string pattern = absl::StrCat(::testing::TempDir(), "/security_test_XXXXXX");
      EXPECT_NE(mkdtemp(pattern.data()), nullptr) << pattern;
      return new std::string(pattern);
    }();
    return *path;
  }
  void TearDown() override { std::filesystem::remove_all(Path()); }
};
::testing::Environment* const temp_directory =
    ::testing::AddGlobalTestEnvironment(new TempDirectory);

// A file holding `contents`; its path.
std::string WriteFile(const std::string& name, const std::string& contents) {
  std::filesystem::create_directories(TempDirectory::Path());  // Again after --gtest_repeat.
  const std::string path = absl::StrCat(TempDirectory::Path(), "/", name);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  EXPECT_NE(file, nullptr) << path;
  if (file != nullptr) {
    std::fwrite(contents.data(), 1, contents.size(), file);
    std::fclose(file);
  }
  return path;
}

// The token file of the servers and clients below; surrounding whitespace is ignored.
std::string TokenFile() { return WriteFile("token", absl::StrCat("  ", kToken, "\n")); }

ServerSecurityOptions TlsServer() {
  return {.tls_cert_file = Tls("server.pem"), .tls_key_file = Tls("server.key")};
}

// A DataLoaderServer serving kConfig on a free 127.0.0.1 port with `security`.
class SecureServer {
 public:
  explicit SecureServer(const ServerSecurityOptions& security)
      : server_(kConfig, 0, {.threads = 2, .security = security, .log_streams = false}) {}
  std::string target() const { return server_.target(); }

 private:
  dataloader::testing::InProcessServer server_;
};

client::ClientOptions Options(const std::string& target, const ClientSecurityOptions& security) {
  client::ClientOptions options;
  options.target = target;
  // A couple of quick reconnects ride out a transient connection failure on a loaded machine;
  // a handshake or token failure is the same on every attempt.
  options.max_retries = 2;
  options.initial_backoff = absl::Milliseconds(10);
  options.max_backoff = absl::Milliseconds(50);
  options.security = security;
  return options;
}

// ListPipelines through the client library (its channel and credentials).
absl::Status List(const std::string& target, const ClientSecurityOptions& security) {
  return client::ListPipelines(Options(target, security), absl::Seconds(10)).status();
}

// The whole epoch of "small" through BatchStream: the number of batches, or the failure.
absl::StatusOr<int> StreamAll(const std::string& target, const ClientSecurityOptions& security) {
  v1::StreamBatchesRequest request;
  request.set_pipeline("small");
  auto stream = client::BatchStream::Open(Options(target, security), request);
  if (!stream.ok()) return stream.status();
  int batches = 0;
  while (true) {
    absl::StatusOr<std::optional<v1::Batch>> next = (*stream)->Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) return batches;
    ++batches;
  }
}

std::shared_ptr<grpc::Channel> Channel(const std::string& target,
                                       const ClientSecurityOptions& security) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      client::CreateSecureChannel(target, security, grpc::ChannelArguments());
  EXPECT_TRUE(channel.ok()) << channel.status();
  return *channel;
}

// ListPipelines on a raw stub, with `authorization` as the metadata (none if nullopt): what a
// client in another language sends.
grpc::Status ListRaw(const std::string& target, const ClientSecurityOptions& security,
                     std::optional<std::string> authorization) {
  auto stub = v1::DataLoader::NewStub(Channel(target, security));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (authorization.has_value()) context.AddMetadata("authorization", *authorization);
  v1::ListPipelinesResponse response;
  return stub->ListPipelines(&context, v1::ListPipelinesRequest(), &response);
}

// grpc.health.v1.Health/Check for `service`; the status, and SERVING or not.
grpc::Status Health(const std::string& target, const ClientSecurityOptions& security,
                    const std::string& service, bool* serving) {
  auto stub = grpc::health::v1::Health::NewStub(Channel(target, security));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  *serving = response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  return status;
}

// --- TLS and mutual TLS.

TEST(TlsTest, StreamAndListWorkOverTls) {
  SecureServer server(TlsServer());
  const ClientSecurityOptions security{.tls_ca_file = Tls("ca.pem")};
  // The certificate names 127.0.0.1 as well as localhost.
  EXPECT_EQ(StreamAll(server.target(), security).value_or(-1), 5);
  EXPECT_TRUE(List(server.target(), security).ok());
  ClientSecurityOptions by_name = security;
  by_name.tls_server_name_override = "localhost";
  EXPECT_TRUE(List(server.target(), by_name).ok());
}

TEST(TlsTest, ClientTrustingTheWrongCaFailsTheHandshake) {
  SecureServer server(TlsServer());
  const absl::Status status = List(server.target(), {.tls_ca_file = Tls("other_ca.pem")});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("andshake")) << status;
  const absl::StatusOr<int> streamed =
      StreamAll(server.target(), {.tls_ca_file = Tls("other_ca.pem")});
  EXPECT_EQ(streamed.status().code(), absl::StatusCode::kUnavailable) << streamed.status();
}

TEST(TlsTest, CertificateForAnotherNameFails) {
  SecureServer server(TlsServer());
  const absl::Status status = List(server.target(), {.tls_ca_file = Tls("ca.pem"),
                                                     .tls_server_name_override = "loader.example"});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST(TlsTest, PlaintextClientCannotTalkToATlsServer) {
  SecureServer server(TlsServer());
  EXPECT_EQ(List(server.target(), {}).code(), absl::StatusCode::kUnavailable);
}

TEST(MutualTlsTest, ClientCertificateIsRequiredAndVerified) {
  ServerSecurityOptions mtls = TlsServer();
  mtls.tls_client_ca_file = Tls("ca.pem");
  SecureServer server(mtls);
  const ClientSecurityOptions with_cert{.tls_ca_file = Tls("ca.pem"),
                                        .tls_cert_file = Tls("client.pem"),
                                        .tls_key_file = Tls("client.key")};
  EXPECT_EQ(StreamAll(server.target(), with_cert).value_or(-1), 5);
  EXPECT_TRUE(List(server.target(), with_cert).ok());

  const absl::Status without = List(server.target(), {.tls_ca_file = Tls("ca.pem")});
  EXPECT_EQ(without.code(), absl::StatusCode::kUnavailable) << without;
  const absl::StatusOr<int> streamed = StreamAll(server.target(), {.tls_ca_file = Tls("ca.pem")});
  EXPECT_EQ(streamed.status().code(), absl::StatusCode::kUnavailable) << streamed.status();

  // A certificate the server's CA did not sign.
  const absl::Status foreign = List(server.target(), {.tls_ca_file = Tls("ca.pem"),
                                                      .tls_cert_file = Tls("other_client.pem"),
                                                      .tls_key_file = Tls("other_client.key")});
  EXPECT_EQ(foreign.code(), absl::StatusCode::kUnavailable) << foreign;
}

// --- Bearer tokens.

struct TokenCase {
  std::string name;
  bool tls;
};
void PrintTo(const TokenCase& token_case, std::ostream* os) { *os << token_case.name; }

class BearerTokenTest : public ::testing::TestWithParam<TokenCase> {
 protected:
  ServerSecurityOptions ServerOptions() const {
    ServerSecurityOptions options = GetParam().tls ? TlsServer() : ServerSecurityOptions{};
    options.auth_token_file = TokenFile();
    return options;
  }
  ClientSecurityOptions ClientOptions() const {
    return GetParam().tls ? ClientSecurityOptions{.tls_ca_file = Tls("ca.pem")}
                          : ClientSecurityOptions{};
  }
};

TEST_P(BearerTokenTest, RightTokenPasses) {
  SecureServer server(ServerOptions());
  ClientSecurityOptions from_file = ClientOptions();
  from_file.auth_token_file = TokenFile();
  EXPECT_EQ(StreamAll(server.target(), from_file).value_or(-1), 5);
  EXPECT_TRUE(List(server.target(), from_file).ok());
  ClientSecurityOptions given = ClientOptions();
  given.auth_token = kToken;
  EXPECT_TRUE(List(server.target(), given).ok());
  // As another language's client sends it; the scheme is case-insensitive (RFC 7235).
  EXPECT_TRUE(ListRaw(server.target(), ClientOptions(), absl::StrCat("Bearer ", kToken)).ok());
  EXPECT_TRUE(ListRaw(server.target(), ClientOptions(), absl::StrCat("bearer ", kToken)).ok());
}

TEST_P(BearerTokenTest, MissingTokenIsUnauthenticated) {
  SecureServer server(ServerOptions());
  const absl::Status listed = List(server.target(), ClientOptions());
  EXPECT_EQ(listed.code(), absl::StatusCode::kUnauthenticated) << listed;
  EXPECT_THAT(listed.message(), HasSubstr("missing bearer token"));
  const absl::StatusOr<int> streamed = StreamAll(server.target(), ClientOptions());
  EXPECT_EQ(streamed.status().code(), absl::StatusCode::kUnauthenticated) << streamed.status();
  EXPECT_THAT(streamed.status().message(), HasSubstr("missing bearer token"));
}

TEST_P(BearerTokenTest, WrongTokenIsUnauthenticated) {
  SecureServer server(ServerOptions());
  ClientSecurityOptions wrong = ClientOptions();
  wrong.auth_token_file = WriteFile("wrong_token", "s3cret-Token_0123456788\n");
  const absl::Status listed = List(server.target(), wrong);
  EXPECT_EQ(listed.code(), absl::StatusCode::kUnauthenticated) << listed;
  EXPECT_THAT(listed.message(), HasSubstr("invalid bearer token"));
  const absl::StatusOr<int> streamed = StreamAll(server.target(), wrong);
  EXPECT_EQ(streamed.status().code(), absl::StatusCode::kUnauthenticated) << streamed.status();
  EXPECT_THAT(streamed.status().message(), HasSubstr("invalid bearer token"));

  // A prefix, an extension, another scheme, an empty value.
  for (const std::string& value : {absl::StrCat("Bearer ", std::string(kToken).substr(0, 5)),
                                   absl::StrCat("Bearer ", kToken, "x"), std::string("Bearer ")}) {
    const grpc::Status raw = ListRaw(server.target(), ClientOptions(), value);
    EXPECT_EQ(raw.error_code(), grpc::StatusCode::UNAUTHENTICATED) << value;
    EXPECT_THAT(raw.error_message(), HasSubstr("invalid bearer token")) << value;
  }
  const grpc::Status basic = ListRaw(server.target(), ClientOptions(), "Basic dXNlcjpwdw==");
  EXPECT_EQ(basic.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(basic.error_message(), HasSubstr("not a bearer token"));
}

TEST_P(BearerTokenTest, HealthChecksNeedNoToken) {
  SecureServer server(ServerOptions());
  for (const std::string& service : {std::string(), std::string("dataloader.v1.DataLoader")}) {
    bool serving = false;
    const grpc::Status status = Health(server.target(), ClientOptions(), service, &serving);
    EXPECT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_TRUE(serving) << service;
  }
}

INSTANTIATE_TEST_SUITE_P(OverTlsAndPlaintext, BearerTokenTest,
                         ::testing::Values(TokenCase{"Tls", true}, TokenCase{"Plaintext", false}),
                         [](const ::testing::TestParamInfo<TokenCase>& info) {
                           return info.param.name;
                         });

// --- Where plaintext is allowed, and configuration errors.

TEST(ServerCredentialsTest, PlaintextOnlyOnLoopbackUnlessAllowed) {
  for (const char* address :
       {"127.0.0.1:0", "127.1.2.3:50051", "localhost:50051", "LOCALHOST:1", "[::1]:50051",
        "[::ffff:127.0.0.1]:1", "unix:/tmp/dataloader.sock", "unix-abstract:dataloader"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
    EXPECT_TRUE(CreateServerCredentials({}, address).ok()) << address;
  }
  for (const char* address : {"0.0.0.0:50051", "[::]:50051", ":50051", "10.0.0.7:50051",
                              "loader:50051", "128.0.0.1:1", "[::2]:1", "localhost.evil:1"}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
    const auto refused = CreateServerCredentials({}, address);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_THAT(refused.status().message(), HasSubstr(address));
    EXPECT_THAT(refused.status().message(), HasSubstr("not a loopback address"));
    EXPECT_THAT(refused.status().message(), HasSubstr("--tls_cert_file and --tls_key_file"));
    EXPECT_THAT(refused.status().message(), HasSubstr("--allow_insecure"));
    EXPECT_TRUE(CreateServerCredentials({.allow_insecure_remote = true}, address).ok()) << address;
    EXPECT_TRUE(CreateServerCredentials(TlsServer(), address).ok()) << address;
  }
}

TEST(ServerCredentialsTest, ErrorsNameTheFlagAndFile) {
  const auto error = [](const ServerSecurityOptions& options) {
    return CreateServerCredentials(options, "127.0.0.1:0").status();
  };
  EXPECT_THAT(error({.tls_cert_file = Tls("server.pem")}).message(),
              HasSubstr("--tls_cert_file is set but --tls_key_file is not"));
  EXPECT_THAT(error({.tls_key_file = Tls("server.key")}).message(),
              HasSubstr("--tls_key_file is set but --tls_cert_file is not"));
  EXPECT_THAT(error({.tls_client_ca_file = Tls("ca.pem")}).message(),
              HasSubstr("--tls_client_ca_file (mutual TLS) needs TLS"));

  ServerSecurityOptions missing = TlsServer();
  missing.tls_cert_file = "/nonexistent/server.pem";
  EXPECT_EQ(error(missing).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(error(missing).message(),
              HasSubstr("cannot read tls_cert_file '/nonexistent/server.pem': No such file"));
  ServerSecurityOptions swapped = TlsServer();
  swapped.tls_key_file = Tls("server.pem");
  EXPECT_THAT(error(swapped).message(), HasSubstr("tls_key_file '"));
  EXPECT_THAT(error(swapped).message(), HasSubstr("is not a PEM file with a PRIVATE KEY"));
  ServerSecurityOptions no_ca = TlsServer();
  no_ca.tls_client_ca_file = Tls("missing_ca.pem");
  EXPECT_THAT(error(no_ca).message(), HasSubstr("cannot read tls_client_ca_file"));

  EXPECT_THAT(error({.auth_token_file = "/nonexistent/token"}).message(),
              HasSubstr("cannot read auth_token_file '/nonexistent/token'"));
  const std::string empty = WriteFile("empty_token", " \n\t\n");
  EXPECT_EQ(error({.auth_token_file = empty}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(error({.auth_token_file = empty}).message(), HasSubstr("is empty"));
  const std::string spaced = WriteFile("spaced_token", "two words\n");
  EXPECT_THAT(error({.auth_token_file = spaced}).message(),
              HasSubstr("only visible ASCII, found byte 0x20 at offset 3"));
}

TEST(ServerCredentialsTest, DescribesTheSecurity) {
  EXPECT_EQ(DescribeServerSecurity({}, "127.0.0.1:1"), "plaintext (loopback), no token");
  ServerSecurityOptions mtls = TlsServer();
  mtls.tls_client_ca_file = Tls("ca.pem");
  mtls.auth_token_file = "token";
  EXPECT_EQ(DescribeServerSecurity(mtls, "0.0.0.0:1"),
            "mTLS (client certificates required), bearer token required");
}

TEST(ClientSecurityTest, TlsByDefaultForNonLoopbackTargets) {
  using client::IsLoopbackTarget;
  using client::UsesTls;
  for (const char* target :
       {"127.0.0.1:1", "localhost:1", "[::1]:1", "dns:///localhost:1", "dns://8.8.8.8/127.0.0.1:1",
        "ipv4:127.0.0.1:1,127.0.0.2:1", "ipv6:[::1]:1", "unix:/tmp/s"}) {
    EXPECT_TRUE(IsLoopbackTarget(target)) << target;
    EXPECT_FALSE(UsesTls({}, target)) << target;
    EXPECT_TRUE(UsesTls({.tls = true}, target)) << target;
    EXPECT_TRUE(UsesTls({.tls_ca_file = "ca.pem"}, target)) << target;
  }
  for (const char* target : {"loader:50051", "dns:///loader:50051", "10.0.0.1:1",
                             "ipv4:127.0.0.1:1,10.0.0.1:1", "0.0.0.0:1"}) {
    EXPECT_FALSE(IsLoopbackTarget(target)) << target;
    EXPECT_TRUE(UsesTls({}, target)) << target;
    EXPECT_FALSE(UsesTls({.allow_insecure = true}, target)) << target;
  }
}

TEST(ClientSecurityTest, ErrorsNameTheOptionAndFile) {
  const auto error = [](const ClientSecurityOptions& options) {
    return client::ValidateClientSecurityOptions(options, "127.0.0.1:1");
  };
  EXPECT_TRUE(error({}).ok());
  EXPECT_THAT(error({.tls_cert_file = Tls("client.pem")}).message(),
              HasSubstr("tls_cert_file is set but tls_key_file is not"));
  EXPECT_EQ(error({.tls_ca_file = "/nonexistent/ca.pem"}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(error({.tls_ca_file = "/nonexistent/ca.pem"}).message(),
              HasSubstr("cannot read tls_ca_file '/nonexistent/ca.pem'"));
  EXPECT_THAT(error({.tls_ca_file = Tls("client.key")}).message(),
              HasSubstr("is not a PEM file with a CERTIFICATE"));
  EXPECT_THAT(error({.auth_token_file = TokenFile(), .auth_token = "x"}).message(),
              HasSubstr("not both"));
  EXPECT_THAT(error({.auth_token_file = WriteFile("client_empty_token", "\n")}).message(),
              HasSubstr("is empty"));
  // BatchStream and ListPipelines check the same before they connect.
  const absl::Status listed = List("127.0.0.1:1", {.tls_ca_file = "/nonexistent/ca.pem"});
  EXPECT_THAT(listed.message(), HasSubstr("cannot read tls_ca_file"));
}

// --- The binaries' flags and environment variables.

using ::dataloader::testing::RunToExit;
using ::dataloader::testing::ServerProcess;

TEST(SecurityBinaryTest, ServerRefusesPlaintextOnAllInterfaces) {
  // stderr into the captured output: that is where the server says why.
  const dataloader::testing::RunResult run = RunToExit(
      {"/bin/sh", "-c", absl::StrCat("exec ", DL_SERVER_BINARY, " --address=0.0.0.0:0 2>&1")});
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("refusing to serve plaintext on '0.0.0.0:0'"));
  EXPECT_THAT(run.output, HasSubstr("--allow_insecure"));

  const dataloader::testing::RunResult missing =
      RunToExit({"/bin/sh", "-c",
                 absl::StrCat("DATALOADER_TLS_CERT_FILE=/nonexistent.pem exec ", DL_SERVER_BINARY,
                              " --address=127.0.0.1:0 2>&1")});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("--tls_cert_file is set but --tls_key_file is not"));
}

TEST(SecurityBinaryTest, ClientAndProbeReachATlsTokenServerConfiguredByEnvironment) {
  const std::string token_file = TokenFile();
  // The environment the server inherits; flags would win over it.
  setenv("DATALOADER_TLS_CERT_FILE", Tls("server.pem").c_str(), 1);
  setenv("DATALOADER_TLS_KEY_FILE", Tls("server.key").c_str(), 1);
  setenv("DATALOADER_TLS_CLIENT_CA_FILE", Tls("ca.pem").c_str(), 1);
  setenv("DATALOADER_AUTH_TOKEN_FILE", token_file.c_str(), 1);
  ServerProcess server;
  for (const char* name : {"DATALOADER_TLS_CERT_FILE", "DATALOADER_TLS_KEY_FILE",
                           "DATALOADER_TLS_CLIENT_CA_FILE", "DATALOADER_AUTH_TOKEN_FILE"}) {
    unsetenv(name);
  }
  const std::vector<std::string> tls = {
      "--tls_ca_file=" + Tls("ca.pem"), "--tls_cert_file=" + Tls("client.pem"),
      "--tls_key_file=" + Tls("client.key"), "--tls_server_name=localhost"};
  std::vector<std::string> client = {DL_CLIENT_BINARY, "--target=" + server.target(),
                                     "--max_batches=2"};
  client.insert(client.end(), tls.begin(), tls.end());

  std::vector<std::string> with_token = client;
  with_token.push_back("--auth_token_file=" + token_file);
  const dataloader::testing::RunResult ok = RunToExit(with_token);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("2 batches"));
  with_token.push_back("--list");
  const dataloader::testing::RunResult listed = RunToExit(with_token);
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("synthetic"));

  const dataloader::testing::RunResult no_token = RunToExit(client);
  EXPECT_EQ(no_token.exit_code, 1) << no_token.output;
  EXPECT_THAT(no_token.output, HasSubstr("UNAUTHENTICATED: missing bearer token"));

  std::vector<std::string> probe = {DL_HEALTH_PROBE_BINARY, "--target=" + server.target()};
  probe.insert(probe.end(), tls.begin(), tls.end());
  const dataloader::testing::RunResult healthy = RunToExit(probe);
  EXPECT_EQ(healthy.exit_code, 0) << healthy.output;
  EXPECT_THAT(healthy.output, HasSubstr("SERVING"));
  // Without a client certificate the mTLS handshake fails.
  const dataloader::testing::RunResult no_cert = RunToExit(
      {DL_HEALTH_PROBE_BINARY, "--target=" + server.target(), "--tls_ca_file=" + Tls("ca.pem")});
  EXPECT_EQ(no_cert.exit_code, 1) << no_cert.output;
}

}  // namespace
}  // namespace dataloader::server
