// Copyright 2026 The dataloader Authors.

#include "cli/command_line.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace dataloader::cli {
namespace {

// Checks each flag argument with Abseil's own flag lookup and value parsing, before Abseil's
// parser (which exits with 1) sees them. Returns the first error, or an empty string.
std::string FirstFlagError(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;  // Everything after it is positional.
    if (!absl::ConsumePrefix(&arg, "-") || arg.empty()) continue;  // Positional ("-" too).
    absl::ConsumePrefix(&arg, "-");
    const size_t equals = arg.find('=');
    const absl::string_view name = arg.substr(0, equals);
    const bool has_value = equals != absl::string_view::npos;
    // Abseil's own parser handles these (they name files or other flags).
    if (name == "flagfile" || name == "fromenv" || name == "tryfromenv" || name == "undefok") {
      if (!has_value) ++i;
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no") && !has_value) {
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) continue;
    }
    if (flag == nullptr) return absl::StrCat("unknown flag --", name, " (see --help)");
    std::string value;
    if (has_value) {
      value = std::string(arg.substr(equals + 1));
    } else if (flag->IsOfType<bool>()) {
      continue;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::StrCat("flag --", name, " needs a value");
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::StrCat("bad value for --", name, ": ", error);
    }
  }
  return "";
}

}  // namespace

bool ApplyEnvironment(absl::string_view program,
                      std::initializer_list<std::pair<absl::string_view, const char*>> flag_env) {
  bool ok = true;
  for (const auto& [name, variable] : flag_env) {
    const char* value = std::getenv(variable);
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || !flag->ParseFrom(value, &error)) {
      std::fprintf(stderr, "%s: %s: %s\n", std::string(program).c_str(), variable,
                   flag == nullptr ? "no such flag" : error.c_str());
      ok = false;
    }
  }
  return ok;
}

std::vector<char*> ParseCommandLineOrExit(int argc, char** argv) {
  if (std::string error = FirstFlagError(argc, argv); !error.empty()) {
    std::fprintf(stderr, "%s: %s\n", argc > 0 ? argv[0] : "", error.c_str());
    std::exit(kUsageExitCode);
  }
  return absl::ParseCommandLine(argc, argv);
}

}  // namespace dataloader::cli
