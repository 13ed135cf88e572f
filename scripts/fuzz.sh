#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/: clang-14, libFuzzer + ASan + UBSan, in build-fuzz/)
# and runs each on its committed seed corpus (tests/fuzz/corpus/<target>/), with
# tests/fuzz/<target>.dict as libFuzzer's dictionary where there is one.
#
# Usage: scripts/fuzz.sh [--time=SECONDS] [--runs=N] [--jobs=J] [TARGET...]
#   --time  seconds per target (default 60)
#   --runs  stop each target after N executions instead (libFuzzer's -runs)
#   --jobs  targets run at once (default 2)
#   TARGET  server_config_fuzzer stream_request_fuzzer image_decode_fuzzer client_batch_fuzzer
#           (default: all four)
# New inputs libFuzzer finds go to build-fuzz/corpus/<target>/ (the committed seeds are only
# read). A crash, leak, sanitizer report or timeout (10 s per input) leaves the input in
# build-fuzz/artifacts/<target>/, prints the report, and fails the script; reproduce with
#   build-fuzz/tests/fuzz/<target> build-fuzz/artifacts/<target>/crash-...
# Prints each target's executions and the total. scripts/test.sh runs it with --time=20.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
runs=
jobs=2
targets=()
for arg in "$@"; do
  case "$arg" in
    --time=*) seconds=${arg#--time=} ;;
    --runs=*) runs=${arg#--runs=} ;;
    --jobs=*) jobs=${arg#--jobs=} ;;
    -h | --help)
      sed -n '2,18p' "$0"
      exit 0
      ;;
    -*)
      echo "fuzz.sh: unknown flag $arg" >&2
      exit 2
      ;;
    *) targets+=("$arg") ;;
  esac
done
((${#targets[@]})) ||
  targets=(server_config_fuzzer stream_request_fuzzer image_decode_fuzzer client_batch_fuzzer)

scripts/install_deps.sh --with-clang
CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DDL_FUZZ=ON -DDL_BUILD_TESTS=OFF \
  -DDL_BUILD_BENCHMARKS=OFF >/dev/null
ninja -C build-fuzz -j2 "${targets[@]}"

limit=(-max_total_time="$seconds")
[[ -n "$runs" ]] && limit=(-runs="$runs")
logs=build-fuzz/logs
mkdir -p "$logs"

run_one() {  # target
  local target=$1
  local seeds=tests/fuzz/corpus/${target%_fuzzer}
  mkdir -p "build-fuzz/corpus/$target" "build-fuzz/artifacts/$target"
  local dict=()
  [[ -f "${seeds%/corpus/*}/${target%_fuzzer}.dict" ]] && dict=(-dict="${seeds%/corpus/*}/${target%_fuzzer}.dict")
  # Leak checks stay on: a leak per input is a leak per request or batch.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "build-fuzz/tests/fuzz/$target" "${limit[@]}" "${dict[@]}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$target/" \
    "build-fuzz/corpus/$target" "$seeds" >"$logs/$target.log" 2>&1
}

declare -A pids
for target in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_one "$target" &
  pids[$target]=$!
done

failed=0
total=0
for target in "${targets[@]}"; do
  status=0
  wait "${pids[$target]}" || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$target.log" | tail -1)
  executions=${executions:-0}
  total=$((total + executions))
  if ((status != 0)); then
    failed=1
    printf '%-24s FAILED (exit %d) after %s executions; log: %s\n' "$target" "$status" \
      "$executions" "$logs/$target.log"
    grep -E -B2 -A30 '^==[0-9]+==ERROR|runtime error|deadly signal|ERROR: libFuzzer' \
      "$logs/$target.log" | head -60 || true
  else
    printf '%-24s %12s executions, 0 crashes\n' "$target" "$executions"
  fi
done
printf '%-24s %12s executions\n' total "$total"
exit "$failed"
