// Copyright 2026 The dataloader Authors.
//
// read_file: Sample::path under the dataset root -> uint8 [n] tensor of the file's bytes.
//
// The list of files comes from a config, but the files themselves are whatever is on disk
// when a sample is read, so every read is checked where it happens:
//   - the path is resolved beneath the root's directory fd with openat2(RESOLVE_BENEATH):
//     "..", absolute symlinks and symlinks that lead out are refused by the kernel, with no
//     window between a check and the open (kernels before 5.6: open, then check what the fd
//     points to through /proc/self/fd);
//   - the open is non-blocking and the fd's type checked before any read, so a FIFO, a socket
//     or a device named by the list fails its sample instead of blocking a pool thread;
//   - files above max_bytes fail their sample before anything is allocated.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/ops/builtin_ops.h"
#include "server/ops/op.h"

namespace dataloader::server {
namespace {

// An fd closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string ErrnoText(int error) { return std::strerror(error); }

const char* FileKind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

class ReadFileOp final : public Op {
 public:
  ReadFileOp(Fd root_fd, std::string root, std::string tensor, int64_t max_bytes)
      : root_fd_(std::move(root_fd)),
        root_(std::move(root)),
        tensor_(std::move(tensor)),
        max_bytes_(max_bytes) {}

  absl::StatusOr<Sample> Run(Sample sample, const TaskContext&) const override {
    if (sample.path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(sample.Describe(), ": read_file: the sample has no file path"));
    }
    absl::StatusOr<std::vector<uint8_t>> bytes = Read(sample.path);
    if (!bytes.ok()) {
      return absl::Status(
          bytes.status().code(),
          absl::StrCat(sample.Describe(), ": read_file: ", bytes.status().message()));
    }
    const int64_t size = static_cast<int64_t>(bytes->size());
    sample.tensors.push_back(
        {.name = tensor_, .dtype = DType::kUint8, .shape = {size}, .data = *std::move(bytes)});
    return sample;
  }

 private:
  absl::StatusOr<Fd> OpenBeneathRoot(const std::string& relative) const {
    constexpr uint64_t kFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    open_how how{};
    how.flags = kFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const long fd = syscall(SYS_openat2, root_fd_.get(), relative.c_str(), &how, sizeof how);
    if (fd >= 0) return Fd(static_cast<int>(fd));
    if (errno == EXDEV) {
      return absl::PermissionDeniedError(
          absl::StrCat("'", relative, "' leads outside the dataset root '", root_, "'"));
    }
    if (errno != ENOSYS) {
      return absl::NotFoundError(absl::StrCat("cannot open: ", ErrnoText(errno)));
    }
    // No openat2 (Linux < 5.6): open, then check where the fd really points.
    Fd opened(openat(root_fd_.get(), relative.c_str(), static_cast<int>(kFlags)));
    if (opened.get() < 0) {
      return absl::NotFoundError(absl::StrCat("cannot open: ", ErrnoText(errno)));
    }
    char target[PATH_MAX];
    const std::string link = absl::StrCat("/proc/self/fd/", opened.get());
    const ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) return absl::InternalError("cannot check where an opened file lies");
    const absl::string_view real(target, static_cast<size_t>(n));
    if (!absl::StartsWith(real, absl::StrCat(root_, "/"))) {
      return absl::PermissionDeniedError(
          absl::StrCat("resolves to '", real, "', outside the dataset root '", root_, "'"));
    }
    return opened;
  }

  absl::StatusOr<std::vector<uint8_t>> Read(const std::string& relative) const {
    absl::StatusOr<Fd> fd = OpenBeneathRoot(relative);
    if (!fd.ok()) return fd.status();
    struct stat info {};
    if (fstat(fd->get(), &info) != 0) {
      return absl::InternalError(absl::StrCat("cannot stat: ", ErrnoText(errno)));
    }
    if (!S_ISREG(info.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("not a regular file (", FileKind(info.st_mode), ")"));
    }
    if (info.st_size > max_bytes_) {
      return absl::InvalidArgumentError(
          absl::StrCat("file is ", info.st_size, " bytes, over max_bytes ", max_bytes_));
    }
    std::vector<uint8_t> bytes(static_cast<size_t>(info.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = read(fd->get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return absl::DataLossError(n == 0 ? std::string("file shrank while being read")
                                          : absl::StrCat("read failed: ", ErrnoText(errno)));
      }
      done += static_cast<size_t>(n);
    }
    return bytes;
  }

  const Fd root_fd_;          // The dataset root, opened once (O_PATH).
  const std::string root_;    // Resolved (realpath), no trailing '/'; for messages.
  const std::string tensor_;  // Output tensor name.
  const int64_t max_bytes_;
};

}  // namespace

absl::Status RegisterFileOps(OpRegistry& registry) {
  return registry.Register(
      {.name = "read_file",
       .summary = "Reads the sample's file (confined to the source's root; regular files only) "
                  "into a uint8 [bytes] tensor. Needs a file source (image_folder, file_list).",
       .args = {{.name = "tensor", .default_value = "encoded", .help = "the output tensor"},
                {.name = "max_bytes",
                 .type = ArgType::kInt,
                 .default_value = "268435456",
                 .min = 1,
                 .help = "larger files fail their sample before anything is read"}},
       .factory = [](const OpArgs& args) -> absl::StatusOr<std::unique_ptr<Op>> {
         if (args.data_root().empty()) {
           return args.Error("needs a pipeline whose source is files (image_folder or file_list)");
         }
         char resolved[PATH_MAX];
         if (realpath(args.data_root().c_str(), resolved) == nullptr) {
           return args.Error(absl::StrCat("cannot resolve the dataset root '", args.data_root(),
                                          "': ", ErrnoText(errno)));
         }
         if (std::string(resolved) == "/") {
           return args.Error("the dataset root must not be '/': every file would be readable");
         }
         Fd root_fd(open(resolved, O_PATH | O_DIRECTORY | O_CLOEXEC));
         if (root_fd.get() < 0) {
           return args.Error(
               absl::StrCat("cannot open the dataset root '", resolved, "': ", ErrnoText(errno)));
         }
         return std::make_unique<ReadFileOp>(std::move(root_fd), resolved, args.String("tensor"),
                                             args.Int("max_bytes"));
       }});
}

}  // namespace dataloader::server
