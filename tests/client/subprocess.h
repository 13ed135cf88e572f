// Copyright 2026 The dataloader Authors.
//
// The project's binaries as subprocesses in tests: Spawn, bounded reads of their stdout and
// bounded waits for their exit, and ServerProcess (a dataloader_server on a loopback port).
// Users define DL_SERVER_BINARY (the server's path) before including it.
#ifndef TESTS_CLIENT_SUBPROCESS_H_
#define TESTS_CLIENT_SUBPROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace dataloader::testing {

struct Child {
  pid_t pid = -1;
  int stdout_fd = -1;
};

// `stderr_path`: where the child's stderr goes (created or truncated); empty: the test's own.
inline Child Spawn(const std::vector<std::string>& args, const std::string& stderr_path = "") {
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    if (!stderr_path.empty()) {
      const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (err < 0) _exit(126);
      dup2(err, STDERR_FILENO);
    }
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  return {.pid = pid, .stdout_fd = fds[0]};
}

// Reads until `stop_at_newline` sees a line end, EOF, or `deadline`.
inline std::string ReadOutput(int fd, absl::Time deadline, bool stop_at_newline) {
  std::string out;
  while (absl::Now() < deadline) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (poll(&p, 1, std::max(timeout_ms, 0)) <= 0) break;
    char c;
    if (read(fd, &c, 1) != 1) break;
    out += c;
    if (stop_at_newline && c == '\n') break;
  }
  return out;
}

// The exit code, or -1 if it took longer than `timeout` (the process is then killed).
inline int WaitForExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct RunResult {
  int exit_code = -1;
  std::string output;
};

inline RunResult RunToExit(const std::vector<std::string>& args) {
  Child child = Spawn(args);
  if (child.pid <= 0) return {};
  RunResult result;
  result.output = ReadOutput(child.stdout_fd, absl::Now() + absl::Seconds(60), false);
  close(child.stdout_fd);
  result.exit_code = WaitForExit(child.pid, absl::Seconds(10));
  return result;
}

// dataloader_server (the binary at DL_SERVER_BINARY) with `flags` (default: a free loopback
// port, the built-in pipeline); 2 threads and a 1 s drain unless `flags` say otherwise.
// SIGTERM when destroyed (expecting exit code 0) unless Terminate() or Kill() came first.
// `stderr_path`: a file that gets the server's log (stderr); empty: the test's stderr.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> flags = {}, const std::string& stderr_path = "") {
    std::vector<std::string> args = {DL_SERVER_BINARY, "--address=127.0.0.1:0", "--threads=2",
                                     "--shutdown_grace_seconds=1"};
    args.insert(args.end(), flags.begin(), flags.end());  // Later flags win.
    child_ = Spawn(args, stderr_path);
    // "... metrics at http://127.0.0.1:P/metrics" (with --metrics_address) comes first, then
    // "... serving ... on 127.0.0.1:P ...".
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    std::string line;
    while (port_ == 0 && absl::Now() < deadline) {
      line = ReadOutput(child_.stdout_fd, deadline, /*stop_at_newline=*/true);
      if (line.empty()) break;
      const size_t at = line.rfind("127.0.0.1:");
      if (at == std::string::npos) continue;
      const std::string rest = line.substr(at + 10);
      const bool metrics = line.find("metrics at") != std::string::npos;
      (void)absl::SimpleAtoi(rest.substr(0, rest.find_first_of(" /\n")),
                             metrics ? &metrics_port_ : &port_);
    }
    EXPECT_NE(port_, 0) << "server's last line: " << line;
  }
  ~ServerProcess() {
    if (child_.pid > 0) {
      EXPECT_EQ(Terminate(), 0);
    }
  }
  // SIGTERM; the exit code (-1 if it took over 30 s).
  int Terminate() {
    kill(child_.pid, SIGTERM);
    const int code = WaitForExit(child_.pid, absl::Seconds(30));
    close(child_.stdout_fd);
    child_.pid = 0;
    return code;
  }
  // SIGKILL: a crash, no drain.
  void Kill() {
    kill(child_.pid, SIGKILL);
    WaitForExit(child_.pid, absl::Seconds(30));
    close(child_.stdout_fd);
    child_.pid = 0;
  }
  int port() const { return port_; }
  pid_t pid() const { return child_.pid; }
  // The Prometheus endpoint's port when started with --metrics_address=127.0.0.1:0.
  int metrics_port() const { return metrics_port_; }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  Child child_;
  int port_ = 0;
  int metrics_port_ = 0;
};

}  // namespace dataloader::testing

#endif  // TESTS_CLIENT_SUBPROCESS_H_
