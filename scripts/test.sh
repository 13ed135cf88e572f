#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite:
#   1. the default build (RelWithDebInfo): every GoogleTest suite and the compile-time checks,
#      then the Python client's pytest suite (tests/python) against that build;
#   2. ASan + UBSan build of the same tests;
#   3. ThreadSanitizer build of the tests that need no gRPC (core/mutex.h makes locks visible
#      to TSan; Debian's gRPC is not instrumented);
#   4. clang-14 -Wthread-safety check of core, server, client, rpc and cli (the lock
#      annotations; scripts/thread_safety_check.sh);
#   5. the libFuzzer targets (scripts/fuzz.sh: clang-14, ASan + UBSan), 20 s each on their
#      committed seed corpora, two at a time;
#   6. clang-format-14 check of every C++ file;
#   7. offline validation of the deployment files (deploy/validate_manifests.sh: kustomize,
#      yamllint, Kubernetes and compose schemas, the Grafana dashboard's structure);
#   8. the Grafana dashboard against the metrics the default build's server exports
#      (deploy/check_dashboard.sh: a real server on 127.0.0.1, a real stream, a scrape).
# Usage: scripts/test.sh [--quick]   (--quick: step 1 only)
# Build trees: build/, build-asan/, build-tsan/, build-fuzz/ (kept for fast re-runs).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
scripts/install_deps.sh --with-clang

configure_and_build() {  # dir, extra cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  ninja -C "$dir" -j2
}

step "default build and tests"
configure_and_build build
(cd build && ctest -j2 --output-on-failure --timeout 300)

step "Python client tests (pytest, against the default build)"
DL_BUILD_DIR="$PWD/build" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python

if ((quick)); then
  exit 0
fi

step "ASan + UBSan build and tests"
configure_and_build build-asan -DDL_SANITIZE=address -DDL_BUILD_BENCHMARKS=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest -j2 --output-on-failure --timeout 600)

step "ThreadSanitizer build and tests (without gRPC)"
# Without gRPC (not TSan-instrumented on Debian): the core and the server's pipeline logic.
configure_and_build build-tsan -DDL_SANITIZE=thread -DDL_BUILD_BENCHMARKS=OFF -DDL_WITH_GRPC=OFF
(cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  ctest -j2 --output-on-failure --timeout 600)

step "clang -Wthread-safety check of every library and binary source"
# core/, server/, client/, rpc/, cli/, parsed by clang-14 against libc++ with the default
# build's flags (scripts/thread_safety_check.sh).
scripts/thread_safety_check.sh build

step "fuzzers (20 s each)"
scripts/fuzz.sh --time=20

step "clang-format check"
git ls-files '*.h' '*.cc' | xargs clang-format --dry-run --Werror

step "deployment manifests"
deploy/validate_manifests.sh

step "Grafana dashboard against the server's metrics"
deploy/check_dashboard.sh build

step "all test steps passed"
