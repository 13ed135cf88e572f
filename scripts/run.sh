#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: for now the example pipeline
# (examples/pipeline_demo.cc) over synthetic samples, printing progress, stats and throughput.
# Extra arguments go to the demo (e.g. --samples=100000 --threads=2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
cmake -S . -B build -G Ninja >/dev/null
ninja -C build -j2 pipeline_demo
exec build/examples/pipeline_demo "$@"
