#!/usr/bin/env bash
# clang-14's -Wthread-safety analysis over every source file of the libraries and binaries
# (core/, server/, client/, rpc/, cli/): checks the ABSL_GUARDED_BY / ABSL_EXCLUSIVE_LOCKS_REQUIRED
# annotations, which g++ ignores. The analysis needs no code generation, so each file is only
# parsed (-fsyntax-only), with the include paths and defines of the default build's
# compile_commands.json, and against LLVM's libc++: clang-14 cannot parse libstdc++ 12's
# <ranges>, which the engine's headers use.
# Usage: scripts/thread_safety_check.sh [BUILD_DIR]   (default build/; needs clang-14, libc++-14-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[[ -f "$build/compile_commands.json" ]] || { echo "thread_safety_check: no $build/compile_commands.json (build first)" >&2; exit 2; }
commands=$(mktemp)
trap 'rm -f "$commands"' EXIT
/usr/bin/python3 - "$build/compile_commands.json" "$PWD" >"$commands" <<'PY'
import json, shlex, sys
entries, root = json.load(open(sys.argv[1])), sys.argv[2] + "/"
for entry in entries:
    path = entry["file"]
    if not path.startswith(root) or not path[len(root):].startswith(("core/", "server/", "client/", "rpc/", "cli/")):
        continue
    args, flags = shlex.split(entry["command"])[1:], []
    i = 0
    while i < len(args):
        if args[i] == "-isystem":
            flags += args[i:i + 2]; i += 2; continue
        if args[i].startswith(("-I", "-D", "-std=")):
            flags.append(args[i])
        i += 1
    print(" ".join(shlex.quote(a) for a in ["clang++-14", "-fsyntax-only", "-stdlib=libc++",
          "-Wall", "-Wextra", "-Wthread-safety", "-Werror", *flags, path]))
PY
count=$(wc -l <"$commands")
if (cd "$build" && xargs -P "$(nproc)" -I{} bash -c '{}' <"$commands"); then
  echo "thread_safety_check: $count files, no thread-safety (or other clang) warning"
else
  echo "thread_safety_check: FAILED (see above)" >&2
  exit 1
fi
