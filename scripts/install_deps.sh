#!/usr/bin/env bash
# Installs, from Debian 12's archive, exactly the packages this project needs that are missing.
# Safe to run repeatedly: when nothing is missing it neither updates apt lists nor installs.
# Usage: scripts/install_deps.sh [--with-clang]   (clang-14 is for the thread-safety check and the fuzzers)
set -euo pipefail

packages=(
  g++ cmake ninja-build pkgconf ccache
  libabsl-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  grpc-proto prometheus-cpp-dev
  libturbojpeg0-dev libspng-dev libopencv-imgproc-dev libyuv-dev
  libcurl4-openssl-dev libexpat1-dev libarchive-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # The Python client (python/): its native extension, its fallback, its torch adapter and
  # their tests (pytest, venv/pip/wheel for the install tests).
  pybind11-dev python3-dev python3-numpy python3-grpcio python3-torch python3-pytest
  python3-venv python3-pip python3-setuptools python3-wheel
)
if [[ "${1:-}" == "--with-clang" ]]; then
  # libc++: the thread-safety check parses with it (clang-14 cannot parse libstdc++ 12's
  # <ranges>); libclang-rt: libFuzzer for the fuzzers.
  packages+=(clang-14 libclang-rt-14-dev libc++-14-dev libc++abi-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the S3 API server the tests start (npm's s3rver, which the tests' set-up
# installs into the git-ignored .cache/s3rver). Any node and npm on PATH will do; else Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]} == 0)); then
  echo "install_deps: all ${#packages[@]} packages present, and node and npm"
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
