#!/usr/bin/env bash
# Installs the S3 API server the tests run (npm's s3rver, run by Node.js) into DIR, once.
# DIR is git-ignored (.cache/s3rver at the repository root); ctest runs this as the set-up of
# the tests that need it (fixture "s3rver"). Node.js and npm come from scripts/install_deps.sh.
# Usage: install_s3rver.sh DIR
set -euo pipefail
dir=${1:?usage: install_s3rver.sh DIR}
version=3.7.1
installed() { [[ -f "$dir/node_modules/s3rver/package.json" ]] &&
  grep -q "\"version\": \"$version\"" "$dir/node_modules/s3rver/package.json"; }
installed && exit 0
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install_s3rver: node and npm are needed: run scripts/install_deps.sh" >&2
  exit 1
fi
mkdir -p "$dir"
# Several build trees (and ctest -j) share the folder: one installer at a time.
exec 9>"$dir/.lock"
flock 9
installed && exit 0
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "s3rver@$version"
installed
