// Copyright 2026 The dataloader Authors.

#include "tests/server/io/s3rver.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/io/aws_credentials.h"

extern char** environ;

namespace dataloader::server::testing {
namespace {

size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

struct Upload {
  const std::string* bytes;
  size_t offset = 0;
};

size_t ReadUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, upload->bytes->size() - upload->offset);
  std::memcpy(buffer, upload->bytes->data() + upload->offset, n);
  upload->offset += n;
  return n;
}

}  // namespace

absl::StatusOr<std::unique_ptr<S3rver>> S3rver::Start(const std::string& bucket, bool tls) {
  const std::string script = std::string(DL_S3RVER_DIR) + "/node_modules/s3rver/bin/s3rver.js";
  if (access(script.c_str(), R_OK) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "s3rver is not installed at ", script, ": run tests/server/io/install_s3rver.sh ",
        DL_S3RVER_DIR, " (ctest does, as the fixture 's3rver')"));
  }
  std::unique_ptr<S3rver> server(new S3rver());
  char pattern[] = "/tmp/dataloader_s3rver_XXXXXX";
  if (mkdtemp(pattern) == nullptr) return absl::InternalError("mkdtemp failed");
  server->directory_ = pattern;
  const std::string data = server->directory_ + "/data";
  const std::string log = server->directory_ + "/log.txt";
  std::filesystem::create_directory(data);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  // --openssl-legacy-provider: s3rver makes continuation tokens with DES, which OpenSSL 3
  // (Node 17 and later) only offers through its legacy provider.
  std::vector<std::string> args = {
      "node",     "--openssl-legacy-provider", script, "-d", data, "-a", "127.0.0.1", "-p", "0",
      "--silent", "--configure-bucket",        bucket};
  server->tls_ = tls;
  if (tls) {
    const std::string certificates = std::string(DL_TEST_DATA_DIR) + "/tls/";
    args.insert(args.end(),
                {"--cert", certificates + "server.pem", "--key", certificates + "server.key"});
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // Node.js from PATH (Debian's /usr/bin/node, or the one install_deps.sh found).
  const int spawned = posix_spawnp(&server->pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    server->pid_ = -1;
    return absl::UnavailableError(
        absl::StrCat("cannot start node (Node.js, from PATH): ", std::strerror(spawned)));
  }
  // It prints "S3rver listening on 127.0.0.1:PORT" once it serves (about a second).
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::string text;
  while (absl::Now() < deadline) {
    std::ifstream in(log);
    std::stringstream contents;
    contents << in.rdbuf();
    text = contents.str();
    const size_t at = text.find("listening on 127.0.0.1:");
    if (at != std::string::npos) {
      const std::string rest = text.substr(at + std::strlen("listening on 127.0.0.1:"));
      int port = 0;
      if (absl::SimpleAtoi(rest.substr(0, rest.find_first_not_of("0123456789")), &port) &&
          port > 0) {
        server->port_ = port;
        return server;
      }
    }
    int status = 0;
    if (waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
      server->pid_ = -1;
      return absl::UnavailableError(absl::StrCat("s3rver exited at start-up: ", text));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::UnavailableError(absl::StrCat("s3rver did not start within 30 s: ", text));
}

S3rver::~S3rver() {
  Kill();
  if (!directory_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
}

void S3rver::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  pid_ = -1;
}

std::string S3rver::endpoint() const {
  return absl::StrCat(tls_ ? "https" : "http", "://127.0.0.1:", port_);
}

io::S3Options S3rver::Options() const {
  return io::S3Options{
      .endpoint = endpoint(),
      .region = "us-east-1",
      .path_style = true,
      .anonymous = false,
      .credentials = io::AwsCredentials{.access_key_id = kAccessKey,
                                        .secret_access_key = kAccessKey,
                                        .session_token = {},
                                        .source = "test"},
      .clock = {},
  };
}

absl::Status S3rver::Put(const std::string& bucket, const std::string& key,
                         const std::string& bytes) {
  // A plain blocking libcurl PUT: uploading is test set-up, not something the server does.
  CURL* curl = curl_easy_init();
  const std::string url =
      absl::StrCat(endpoint(), "/", bucket, "/", io::AwsUriEncode(key, /*keep_slash=*/true));
  Upload upload{.bytes = &bytes};
  curl_slist* headers = curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, &ReadUpload);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(bytes.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Discard);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
  curl_easy_setopt(curl, CURLOPT_USERNAME, kAccessKey);
  curl_easy_setopt(curl, CURLOPT_PASSWORD, kAccessKey);
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("PUT ", key, ": ", curl_easy_strerror(code)));
  }
  if (status != 200) return absl::InternalError(absl::StrCat("PUT ", key, ": HTTP ", status));
  return absl::OkStatus();
}

}  // namespace dataloader::server::testing
