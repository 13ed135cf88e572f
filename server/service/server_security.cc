// Copyright 2026 The dataloader Authors.
//
// CreateServerCredentials and the bearer-token check (see server_security.h).
#include "server/service/server_security.h"

#include <arpa/inet.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "rpc/credential_files.h"

namespace dataloader::server {
namespace {

// Every method of the standard health service stays open: Kubernetes' gRPC probe, Docker's
// HEALTHCHECK and load balancers cannot send a token, and health reveals nothing but
// SERVING/NOT_SERVING.
constexpr absl::string_view kHealthMethodPrefix = "/grpc.health.v1.Health/";

// The token of `path`: its contents without surrounding whitespace. A token must be a
// non-empty run of visible ASCII, since it travels in an HTTP/2 header.
absl::StatusOr<std::string> ReadToken(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadCredentialFile("auth_token_file", path);
  if (!contents.ok()) return contents;
  const std::string token(absl::StripAsciiWhitespace(*contents));
  if (token.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("auth_token_file '", path, "' is empty: it must hold the bearer token"));
  }
  for (size_t i = 0; i < token.size(); ++i) {
    const unsigned char c = token[i];
    if (c <= 0x20 || c >= 0x7f) {
      return absl::FailedPreconditionError(
          absl::StrCat("auth_token_file '", path, "': the token may hold only visible ASCII, ",
                       "found byte 0x", absl::Hex(c), " at offset ", i));
    }
  }
  return token;
}

// Compares in time that depends on the lengths only, so that a caller cannot find the token
// byte by byte from response times.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    difference |=
        static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(i < b.size() ? b[i] : ~a[i]);
  }
  return difference == 0;
}

// Checks `authorization: Bearer <token>` on every call but health checks. Runs in gRPC's
// server auth filter, before the call reaches a handler, so no service has to remember to
// check; the token is consumed there and never reaches the service.
class BearerTokenProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit BearerTokenProcessor(std::string token) : token_(std::move(token)) {}

  // A comparison is cheap: run it on gRPC's thread rather than hopping to another.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* /*context*/,
                       OutputMetadata* consumed, OutputMetadata* /*response*/) override {
    // gRPC 1.51 passes the request's pseudo-headers too. Without ":path" the call is checked
    // like any other (fails closed).
    if (auto path = metadata.find(":path"); path != metadata.end()) {
      const absl::string_view method(path->second.data(), path->second.size());
      if (absl::StartsWith(method, kHealthMethodPrefix)) return grpc::Status::OK;
    }
    auto [begin, end] = metadata.equal_range("authorization");
    if (begin == end) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "missing bearer token: this server requires the call metadata "
                          "'authorization: Bearer <token>'");
    }
    bool bearer = false;
    bool matches = false;
    for (auto it = begin; it != end; ++it) {
      const absl::string_view value(it->second.data(), it->second.size());
      constexpr absl::string_view kScheme = "bearer ";
      if (value.size() < kScheme.size() ||
          !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme)) {
        continue;
      }
      bearer = true;
      matches |=
          ConstantTimeEquals(absl::StripAsciiWhitespace(value.substr(kScheme.size())), token_);
    }
    if (!bearer) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "the authorization metadata is not a bearer token: expected "
                          "'authorization: Bearer <token>'");
    }
    if (!matches) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "invalid bearer token: it does not match the server's token");
    }
    consumed->emplace("authorization", std::string(begin->second.data(), begin->second.size()));
    return grpc::Status::OK;
  }

 private:
  const std::string token_;
};

// The host of a "HOST:PORT" or "[HOST]:PORT" address; the whole address if it has no port.
absl::string_view AddressHost(absl::string_view address) {
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    return close == absl::string_view::npos ? address.substr(1) : address.substr(1, close - 1);
  }
  const size_t colon = address.rfind(':');
  // Two colons or more without brackets: a bare IPv6 address, no port.
  if (colon == absl::string_view::npos || address.find(':') != colon) return address;
  return address.substr(0, colon);
}

}  // namespace

bool IsLoopbackAddress(absl::string_view listen_address) {
  if (absl::StartsWith(listen_address, "unix:") ||
      absl::StartsWith(listen_address, "unix-abstract:")) {
    return true;
  }
  const std::string host(AddressHost(listen_address));
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

std::string DescribeServerSecurity(const ServerSecurityOptions& options,
                                   absl::string_view listen_address) {
  std::vector<std::string> parts;
  if (!options.tls_cert_file.empty()) {
    parts.push_back(options.tls_client_ca_file.empty() ? "TLS"
                                                       : "mTLS (client certificates required)");
  } else {
    parts.push_back(IsLoopbackAddress(listen_address) ? "plaintext (loopback)"
                                                      : "PLAINTEXT on a non-loopback address");
  }
  parts.push_back(options.auth_token_file.empty() ? "no token" : "bearer token required");
  return absl::StrJoin(parts, ", ");
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> CreateServerCredentials(
    const ServerSecurityOptions& options, absl::string_view listen_address) {
  const bool has_cert = !options.tls_cert_file.empty();
  const bool has_key = !options.tls_key_file.empty();
  if (has_cert != has_key) {
    return absl::InvalidArgumentError(
        has_cert ? "--tls_cert_file is set but --tls_key_file is not: TLS needs both"
                 : "--tls_key_file is set but --tls_cert_file is not: TLS needs both");
  }
  if (!options.tls_client_ca_file.empty() && !has_cert) {
    return absl::InvalidArgumentError(
        "--tls_client_ca_file (mutual TLS) needs TLS: set --tls_cert_file and --tls_key_file "
        "too");
  }
  std::shared_ptr<grpc::AuthMetadataProcessor> processor;
  if (!options.auth_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(options.auth_token_file);
    if (!token.ok()) return token.status();
    processor = std::make_shared<BearerTokenProcessor>(*std::move(token));
  }

  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (has_cert) {
    absl::StatusOr<std::string> cert =
        ReadPemFile("tls_cert_file", options.tls_cert_file, "CERTIFICATE");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key =
        ReadPemFile("tls_key_file", options.tls_key_file, "PRIVATE KEY");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    if (!options.tls_client_ca_file.empty()) {
      absl::StatusOr<std::string> ca =
          ReadPemFile("tls_client_ca_file", options.tls_client_ca_file, "CERTIFICATE");
      if (!ca.ok()) return ca.status();
      ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
      ssl.pem_root_certs = *std::move(ca);
    }
    ssl.pem_key_cert_pairs.push_back({.private_key = *std::move(key), .cert_chain = *cert});
    credentials = grpc::SslServerCredentials(ssl);
  } else {
    if (!IsLoopbackAddress(listen_address) && !options.allow_insecure_remote) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing to serve plaintext on '", listen_address,
          "', which is not a loopback address: give --tls_cert_file and --tls_key_file for "
          "TLS, or --allow_insecure if the network is trusted"));
    }
    // gRPC 1.51's InsecureServerCredentials() aborts in SetAuthMetadataProcessor (it never
    // runs a processor). XdsServerCredentials with insecure fallback is plaintext on the wire
    // (a server that is not an xDS server always uses the fallback) and does run one.
    credentials = processor != nullptr
                      ? grpc::XdsServerCredentials(grpc::InsecureServerCredentials())
                      : grpc::InsecureServerCredentials();
  }
  if (processor != nullptr) credentials->SetAuthMetadataProcessor(processor);
  return credentials;
}

}  // namespace dataloader::server
