#!/usr/bin/env bash
# Checks the Grafana dashboard (deploy/grafana/dataloader.json) against the metrics the server
# really exports: starts the built dataloader_server on 127.0.0.1 (free ports) with
# --metrics_address and the deployed pipeline config (deploy/kubernetes/pipeline_config.textproto)
# plus a small pipeline of test images one of which is corrupt, streams batches from it with
# dataloader_client (so that every metric family has series: a stream that ran and ended, one
# refused, a failed sample), scrapes /metrics, and runs
# deploy/tools/check_dashboard.mjs on the dashboard and the scrape: structure, PromQL syntax
# (Prometheus' own grammar), and every metric name and label each query and variable uses.
# A renamed metric or label fails here. ~5 s once built.
#
# Usage: deploy/check_dashboard.sh [BUILD_DIR]      (default: build; needs
#          BUILD_DIR/server/dataloader_server and BUILD_DIR/client/dataloader_client)
# Environment: DASHBOARD=deploy/grafana/dataloader.json, KEEP=DIR (keeps the scrape and the
# server's log there), NPM_CACHE (see deploy/tools/npm_modules.sh).
# Exits 0 when the dashboard passes, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${1:-build}
DASHBOARD=${DASHBOARD:-deploy/grafana/dataloader.json}
SERVER="$BUILD_DIR/server/dataloader_server"
CLIENT="$BUILD_DIR/client/dataloader_client"
CONFIG=deploy/kubernetes/pipeline_config.textproto

fail() {
  printf 'check_dashboard: FAILED: %s\n' "$*" >&2
  exit 1
}
for binary in "$SERVER" "$CLIENT"; do
  [[ -x "$binary" ]] || fail "$binary not built (ninja -C $BUILD_DIR dataloader_server dataloader_client_cli)"
done

# shellcheck source=deploy/tools/npm_modules.sh
source deploy/tools/npm_modules.sh
ensure_npm_modules

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "${KEEP:-}" ]]; then
    mkdir -p "$KEEP"
    cp "$work"/* "$KEEP"/ 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The deployed pipelines, and one whose second sample fails (dataloader_stage_sample_failures_total).
mkdir -p "$work/images"
cp tests/data/images/rgb_420.jpg "$work/images/good.jpg"
cp tests/data/images/corrupt.jpg "$work/images/corrupt.jpg"
printf 'good.jpg 0\ncorrupt.jpg 1\n' >"$work/images/list.txt"
{
  cat "$CONFIG"
  cat <<EOF
pipelines {
  name: "bad_files"
  file_list { root: "$work/images" list_file: "$work/images/list.txt" }
  stages { op: "read_file" }
  stages { op: "decode_image" }
  batch_size: 2
}
EOF
} >"$work/config.textproto"

# Port 0 for both: the server prints the ports it got.
"$SERVER" --address=127.0.0.1:0 --metrics_address=127.0.0.1:0 --config="$work/config.textproto" \
  --threads=2 --shutdown_grace_seconds=2 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
port=
metrics_url=
for _ in $(seq 300); do  # up to 30 s: the server checks its pipelines before it listens
  kill -0 "$server_pid" 2>/dev/null || {
    cat "$work/server.err" >&2
    fail "the server exited before serving"
  }
  port=$(sed -n 's/^dataloader_server: serving .* on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/server.out")
  metrics_url=$(sed -n 's/^dataloader_server: metrics at \(http:[^ ]*\)$/\1/p' "$work/server.out")
  [[ -n "$port" && -n "$metrics_url" ]] && break
  sleep 0.1
done
[[ -n "$port" && -n "$metrics_url" ]] || fail "the server did not report its ports within 30 s"
echo "server on 127.0.0.1:$port, metrics at $metrics_url"

# A stream that runs to its end (streams_finished, stream_duration, every stage's metrics).
timeout 120 "$CLIENT" --target="127.0.0.1:$port" --pipeline=synthetic --max_batches=20 --verify ||
  fail "dataloader_client did not stream 20 batches"
# A failed sample (sample_failures): the corrupt image, named in the server's log.
timeout 60 "$CLIENT" --target="127.0.0.1:$port" --pipeline=bad_files >/dev/null ||
  fail "dataloader_client did not stream the bad_files pipeline"
grep -q 'sample failed: pipeline=bad_files stage=decode_image sample=1 file="corrupt.jpg"' \
  "$work/server.err" || fail "the server's log does not name the corrupt file: $(cat "$work/server.err")"
# A refused call (streams_refused): a pipeline the server does not have.
if timeout 60 "$CLIENT" --target="127.0.0.1:$port" --pipeline=no_such_pipeline --max_batches=1 \
  --max_retries=0 >"$work/refused.out" 2>&1; then
  fail "a stream of an unknown pipeline was not refused"
fi
grep -q NOT_FOUND "$work/refused.out" ||
  fail "the unknown pipeline's stream failed, but not with NOT_FOUND: $(cat "$work/refused.out")"

# Node's fetch: no curl or wget needed (node is here for the check anyway).
# shellcheck disable=SC2016  # JavaScript, not shell
timeout 30 node -e '
  fetch(process.argv[1]).then(async (response) => {
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    process.stdout.write(await response.text());
  }).catch((error) => { console.error(`scrape: ${error.message}`); process.exit(1); });' \
  "$metrics_url" >"$work/scrape.txt" || fail "scraping $metrics_url"
echo "scraped $(grep -vc '^#' "$work/scrape.txt") samples of" \
  "$(grep -c '^# TYPE' "$work/scrape.txt") metric families"

kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=
((server_status == 0)) || fail "the server exited $server_status after SIGTERM"

node deploy/tools/check_dashboard.mjs "$DASHBOARD" "$work/scrape.txt" ||
  fail "$DASHBOARD does not match the metrics the server exports (KEEP=DIR keeps the scrape)"
# And the check still bites: known defects, one at a time, must each fail it.
node deploy/tools/check_dashboard_mutants.mjs "$DASHBOARD" "$work/scrape.txt" ||
  fail "check_dashboard.mjs no longer catches a defect it should"
