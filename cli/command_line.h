// Copyright 2026 The dataloader Authors.
//
// The command line of the project's binaries (dataloader_server, dataloader_client,
// dataloader_health_probe): Abseil flags, each also settable from an environment variable
// (flags win), and the exit code the README promises for bad flags.
//
//   int main(int argc, char** argv) {
//     if (!ApplyEnvironment("dataloader_server", {{"threads", "DATALOADER_THREADS"}})) {
//       return kUsageExitCode;
//     }
//     std::vector<char*> rest = ParseCommandLineOrExit(argc, argv);
//
// Call from main(), before any thread starts.
#ifndef CLI_COMMAND_LINE_H_
#define CLI_COMMAND_LINE_H_

#include <initializer_list>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace dataloader::cli {

// Exit code for a bad flag or flag value (unknown flag, a value that does not parse).
inline constexpr int kUsageExitCode = 2;

// For each (flag name, variable) pair whose variable is set, parses its value into the flag.
// Returns false after printing "<program>: <VARIABLE>: <error>" to stderr for a value the
// flag refuses. Call before ParseCommandLineOrExit, so that command-line flags override.
bool ApplyEnvironment(absl::string_view program,
                      std::initializer_list<std::pair<absl::string_view, const char*>> flag_env);

// absl::ParseCommandLine, except that an unknown flag or a value that does not parse prints
// the error and exits with kUsageExitCode (Abseil itself exits with 1, the code this
// project's binaries use for a failed run). --help and friends behave as Abseil's.
std::vector<char*> ParseCommandLineOrExit(int argc, char** argv);

}  // namespace dataloader::cli

#endif  // CLI_COMMAND_LINE_H_
