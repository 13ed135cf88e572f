#!/usr/bin/env bash
# The main job. Installs what is missing, builds, starts dataloader_server with its built-in
# 'synthetic' pipeline on a free loopback port, lists its pipelines and streams one epoch
# with dataloader_client (verifying sequence continuity and tensor shapes), streams it again
# with the Python client (python3 -m dataloader_client, built into build/python), prints the
# throughput and the server's peak RSS, then stops the server (SIGTERM) and shows its
# per-stream log.
# Extra arguments go to the client (e.g. --max_batches=50 --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
cmake -S . -B build -G Ninja >/dev/null
ninja -C build -j2 dataloader_server dataloader_client_cli dataloader_client_python

logs=$(mktemp -d)
build/server/dataloader_server --address=127.0.0.1:0 >"$logs/out" 2>"$logs/err" &
server=$!
stop_server() {
  if kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server"
    wait "$server" || true
  fi
}
trap stop_server EXIT

port=""
for _ in $(seq 600); do  # The server probes its pipelines first: up to 60 s.
  port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$logs/out")
  [[ -n "$port" ]] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "run.sh: the server exited:" >&2
    cat "$logs/err" >&2
    exit 1
  fi
  sleep 0.1
done
[[ -n "$port" ]] || { echo "run.sh: the server did not start listening within 60 s" >&2; exit 1; }
cat "$logs/out"

build/client/dataloader_client --target="127.0.0.1:$port" --list
build/client/dataloader_client --target="127.0.0.1:$port" --verify "$@"
# The Python client (the native extension: the C++ library without the GIL), same checks.
PYTHONPATH=build/python /usr/bin/python3 -m dataloader_client stream \
  --target="127.0.0.1:$port" --verify "$@"
# The server's own peak resident memory (the client runs in another process).
echo "server peak RSS: $(awk '/^VmHWM:/ {printf "%.0f MiB", $2 / 1024}' "/proc/$server/status")"
stop_server
trap - EXIT
echo "--- server log"
cat "$logs/err"
rm -rf "$logs"
