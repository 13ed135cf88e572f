// Copyright 2026 The dataloader Authors.
//
// Helpers of the fault suites (tests/faults/): a real dataloader_server's resources read from
// /proc, its Prometheus endpoint scraped over HTTP, stubs on a connection of their own, and
// config files written for a test. Users define DL_SERVER_BINARY before including it (see
// tests/client/subprocess.h).
#ifndef TESTS_FAULTS_FAULT_UTIL_H_
#define TESTS_FAULTS_FAULT_UTIL_H_

#include <arpa/inet.h>
#include <dirent.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dataloader/v1/data_loader.grpc.pb.h"
#include "gtest/gtest.h"

namespace dataloader::testing {

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh directory under the test's temporary directory.
inline std::filesystem::path FreshDirectory(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// What a process holds, from /proc/PID.
struct ProcessResources {
  int64_t threads = 0;
  int64_t open_fds = 0;
  int64_t rss_kib = 0;  // Resident memory (VmRSS): live heap plus what the allocator keeps.
};

inline ProcessResources ReadProcessResources(pid_t pid) {
  ProcessResources resources;
  std::istringstream status(ReadWholeFile(absl::StrCat("/proc/", pid, "/status")));
  for (std::string line; std::getline(status, line);) {
    absl::string_view rest = line;
    int64_t* field = nullptr;
    if (absl::ConsumePrefix(&rest, "Threads:")) field = &resources.threads;
    if (absl::ConsumePrefix(&rest, "VmRSS:")) field = &resources.rss_kib;
    if (field != nullptr) {
      rest = absl::StripAsciiWhitespace(absl::StripSuffix(absl::StripAsciiWhitespace(rest), "kB"));
      EXPECT_TRUE(absl::SimpleAtoi(rest, field)) << line;
    }
  }
  if (DIR* fds = opendir(absl::StrCat("/proc/", pid, "/fd").c_str())) {
    while (dirent* entry = readdir(fds)) resources.open_fds += entry->d_name[0] != '.';
    closedir(fds);
  }
  return resources;
}

inline std::ostream& operator<<(std::ostream& out, const ProcessResources& resources) {
  return out << resources.threads << " threads, " << resources.open_fds << " fds, "
             << resources.rss_kib / 1024 << " MiB resident";
}

// GET http://127.0.0.1:port/path over a plain socket (5 s timeouts); the body, or "" after a
// test failure.
inline std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    ADD_FAILURE() << "cannot connect to the metrics port " << port;
    return "";
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[65536];
  for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) response.append(buffer, n);
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || response.find(" 200 ") == std::string::npos ||
      body == std::string::npos) {
    ADD_FAILURE() << "not an HTTP 200 response: " << response.substr(0, 200);
    return "";
  }
  return response.substr(body + 4);
}

// The sum of the samples of metric `name` in a scrape whose label sets contain every one of
// `labels` (each written as in the exposition, e.g. R"(code="OK")").
inline double MetricSum(const std::string& scrape, const std::string& name,
                        const std::vector<std::string>& labels = {}) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(scrape, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || line.empty() || (line[0] != '{' && line[0] != ' ')) {
      continue;
    }
    bool match = true;
    for (const std::string& label : labels) match &= line.find(label) != absl::string_view::npos;
    double value = 0;
    if (match && absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) sum += value;
  }
  return sum;
}

// A stub on a connection of its own (no subchannel shared with other channels), accepting
// batches of any size: closing it closes that connection.
inline std::unique_ptr<v1::DataLoader::Stub> OwnConnectionStub(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return v1::DataLoader::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
}

// Writes `text` to `path` and returns the path.
inline std::string WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

}  // namespace dataloader::testing

#endif  // TESTS_FAULTS_FAULT_UTIL_H_
