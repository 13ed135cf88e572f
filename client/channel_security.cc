// Copyright 2026 The dataloader Authors.
//
// CreateSecureChannel and its checks (see channel_security.h).
#include "client/channel_security.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/client_interceptor.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "rpc/credential_files.h"

namespace dataloader::client {
namespace {

// The token of `options`: auth_token, or auth_token_file's contents without surrounding
// whitespace; empty if neither is set. A token must be visible ASCII (it is an HTTP/2 header).
absl::StatusOr<std::string> Token(const ClientSecurityOptions& options) {
  if (!options.auth_token.empty() && !options.auth_token_file.empty()) {
    return absl::InvalidArgumentError("give auth_token or auth_token_file, not both");
  }
  std::string token = options.auth_token;
  std::string source = "auth_token";
  if (!options.auth_token_file.empty()) {
    absl::StatusOr<std::string> contents =
        ReadCredentialFile("auth_token_file", options.auth_token_file);
    if (!contents.ok()) return contents;
    token = std::string(absl::StripAsciiWhitespace(*contents));
    source = absl::StrCat("auth_token_file '", options.auth_token_file, "'");
    if (token.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(source, " is empty: it must hold the bearer token"));
    }
  }
  for (size_t i = 0; i < token.size(); ++i) {
    const unsigned char c = token[i];
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": the token may hold only visible ",
                                                     "ASCII, found byte 0x", absl::Hex(c),
                                                     " at offset ", i));
    }
  }
  return token;
}

// Over TLS: gRPC attaches it to every call, and only on a connection secure enough for it.
class BearerTokenPlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  explicit BearerTokenPlugin(std::string token) : header_(absl::StrCat("Bearer ", token)) {}
  bool IsBlocking() const override { return false; }
  const char* GetType() const override { return "dataloader.bearer_token"; }
  grpc::Status GetMetadata(grpc::string_ref /*service_url*/, grpc::string_ref /*method_name*/,
                           const grpc::AuthContext& /*channel_auth_context*/,
                           std::multimap<std::string, std::string>* metadata) override {
    metadata->emplace("authorization", header_);
    return grpc::Status::OK;
  }
  std::string DebugString() override { return "bearer token (redacted)"; }

 private:
  const std::string header_;
};

// Over plaintext: gRPC 1.51 refuses call credentials on an insecure channel
// (CompositeChannelCredentials returns null; per-call credentials fail the call with
// UNAUTHENTICATED "Established channel does not have a sufficient security level to transfer
// call credential."), so the header is added to each call's initial metadata instead.
class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(std::string header) : header_(std::move(header)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", header_);
    }
    methods->Proceed();
  }

 private:
  const std::string header_;
};

class BearerTokenInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenInterceptorFactory(const std::string& token)
      : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new BearerTokenInterceptor(header_);
  }

 private:
  const std::string header_;
};

// Whether `host` (no port, no brackets) is localhost, in 127.0.0.0/8 or ::1.
bool IsLoopbackHost(const std::string& host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

// The host of "HOST:PORT", "[HOST]:PORT", "HOST" or a bare IPv6 address.
std::string HostOf(absl::string_view address) {
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    return std::string(close == absl::string_view::npos ? address.substr(1)
                                                        : address.substr(1, close - 1));
  }
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || address.find(':') != colon) return std::string(address);
  return std::string(address.substr(0, colon));
}

}  // namespace

bool IsLoopbackTarget(absl::string_view target) {
  if (absl::StartsWith(target, "unix:") || absl::StartsWith(target, "unix-abstract:")) {
    return true;
  }
  // ipv4:/ipv6: name a comma-separated list of addresses; every one must be loopback.
  for (absl::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (absl::ConsumePrefix(&target, scheme)) {
      for (absl::string_view address : absl::StrSplit(target, ',')) {
        absl::ConsumePrefix(&address, "//");
        if (!IsLoopbackHost(HostOf(address))) return false;
      }
      return !target.empty();
    }
  }
  // dns:HOST:PORT, dns:///HOST:PORT, dns://AUTHORITY/HOST:PORT.
  if (absl::ConsumePrefix(&target, "dns:") && absl::ConsumePrefix(&target, "//")) {
    const size_t slash = target.find('/');
    if (slash == absl::string_view::npos) return false;
    target.remove_prefix(slash + 1);
  }
  return IsLoopbackHost(HostOf(target));
}

bool UsesTls(const ClientSecurityOptions& options, absl::string_view target) {
  return options.tls || !options.tls_ca_file.empty() || !options.tls_cert_file.empty() ||
         !options.tls_key_file.empty() || !options.tls_server_name_override.empty() ||
         (!options.allow_insecure && !IsLoopbackTarget(target));
}

namespace {

// What a channel needs, read from the files of `options`.
struct Material {
  bool tls = false;
  std::string token = {};  // Empty: no token.
  std::string ca = {};     // Empty: gRPC's default roots.
  std::string cert = {};   // Empty: no client certificate.
  std::string key = {};
};

absl::StatusOr<Material> Load(const ClientSecurityOptions& options, absl::string_view target) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        options.tls_key_file.empty()
            ? "tls_cert_file is set but tls_key_file is not: a client certificate needs both"
            : "tls_key_file is set but tls_cert_file is not: a client certificate needs both");
  }
  Material material{.tls = UsesTls(options, target)};
  absl::StatusOr<std::string> token = Token(options);
  if (!token.ok()) return token.status();
  material.token = *std::move(token);
  if (!material.tls) return material;
  if (!options.tls_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile("tls_ca_file", options.tls_ca_file, "CERTIFICATE");
    if (!ca.ok()) return ca.status();
    material.ca = *std::move(ca);
  }
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadPemFile("tls_cert_file", options.tls_cert_file, "CERTIFICATE");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key =
        ReadPemFile("tls_key_file", options.tls_key_file, "PRIVATE KEY");
    if (!key.ok()) return key.status();
    material.cert = *std::move(cert);
    material.key = *std::move(key);
  }
  return material;
}

}  // namespace

absl::Status ValidateClientSecurityOptions(const ClientSecurityOptions& options,
                                           absl::string_view target) {
  return Load(options, target).status();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateSecureChannel(
    const std::string& target, const ClientSecurityOptions& options, grpc::ChannelArguments args) {
  absl::StatusOr<Material> material = Load(options, target);
  if (!material.ok()) return material.status();
  if (!material->tls) {
    std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> creators;
    if (!material->token.empty()) {
      creators.push_back(std::make_unique<BearerTokenInterceptorFactory>(material->token));
    }
    return grpc::experimental::CreateCustomChannelWithInterceptors(
        target, grpc::InsecureChannelCredentials(), args, std::move(creators));
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = std::move(material->ca);
  ssl.pem_cert_chain = std::move(material->cert);
  ssl.pem_private_key = std::move(material->key);
  if (!options.tls_server_name_override.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name_override);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::SslCredentials(ssl);
  if (!material->token.empty()) {
    credentials = grpc::CompositeChannelCredentials(
        credentials, grpc::MetadataCredentialsFromPlugin(
                         std::make_unique<BearerTokenPlugin>(std::move(material->token))));
  }
  return grpc::CreateCustomChannel(target, credentials, args);
}

}  // namespace dataloader::client
