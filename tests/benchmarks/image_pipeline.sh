#!/usr/bin/env bash
# The image pipeline benchmark, in one run on this machine:
#   1. generates (or reuses) a dataset of ~2,000 images of ~500x375 (JPEG, some PNG and
#      grayscale) in the ImageNet layout with make_image_dataset;
#   2. decode_limit: each training pipeline's per-sample stages (read, decode + random resized
#      crop 224 + flip, and normalize for the float one) on one thread (image_decode_rate) x
#      cores: the most any loader could deliver here;
#   3. service: the shipped training pipelines (deploy/pipelines/imagenet_train.textproto, as
#      shipped: automatic concurrency) served by one dataloader_server --threads=cores and
#      streamed by dataloader_client over loopback, each one full epoch after a warm-up epoch:
#      imagenet_train (float32 NCHW, normalize fused into collate) and imagenet_train_uint8
#      (uint8 NHWC); plus the server's peak RSS;
#   4. torch: PyTorch's DataLoader (num_workers = cores, torchvision transforms of the same
#      work, batch 32) on the same files (tests/benchmarks/torch_baseline.py), float32
#      (ToTensor + Normalize) and uint8 (PILToTensor).
# Ends with two lines:
#   images/s: service=X decode_limit=Y torch=Z         (float32)
#   images/s uint8: service=X torch=Z
#
# Usage: tests/benchmarks/image_pipeline.sh [--images=2000] [--dataset=DIR] [--no-torch]
# Installs what is missing (python3-torch and python3-torchvision are ~930 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."

images=2000
dataset=/var/tmp/dataloader-images
torch=1
for arg in "$@"; do
  case "$arg" in
    --images=*) images="${arg#*=}" ;;
    --dataset=*) dataset="${arg#*=}" ;;
    --no-torch) torch=0 ;;
    *) echo "image_pipeline.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
cores=$(nproc)

scripts/install_deps.sh
if ((torch)) && ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  echo "image_pipeline.sh: installing python3-torch and python3-torchvision (Debian)"
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    python3-torch python3-torchvision python3-pil >/dev/null
fi
cmake -S . -B build -G Ninja >/dev/null
ninja -C build -j2 dataloader_server dataloader_client_cli make_image_dataset image_decode_rate

echo "== dataset: $images images in $dataset"
build/tools/make_image_dataset --output="$dataset/train" --images="$images"

work=$(mktemp -d)
server=""
cleanup() {
  if [[ -n "$server" ]] && kill -0 "$server" 2>/dev/null; then kill -TERM "$server"; wait "$server" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# The shipped training config, pointed at the dataset, as shipped otherwise.
sed -e "s#/data/imagenet/train#$dataset/train#" \
    deploy/pipelines/imagenet_train.textproto >"$work/train.textproto"

limit() {  # pipeline -> single-thread rate x cores
  build/tests/benchmarks/image_decode_rate --config="$work/train.textproto" \
    --pipeline="$1" | tee "$work/limit_$1" >&2
  local single
  single=$(sed -n 's/^single_thread_images_per_s=//p' "$work/limit_$1")
  awk -v s="$single" -v c="$cores" 'BEGIN {printf "%.1f", s * c}'
}
echo "== decode limit: per-sample stages on one thread x $cores cores"
decode_limit=$(limit imagenet_train)
decode_limit_uint8=$(limit imagenet_train_uint8)

echo "== service: dataloader_server --threads=$cores + dataloader_client over loopback"
build/server/dataloader_server --config="$work/train.textproto" --address=127.0.0.1:0 \
  --threads="$cores" >"$work/server.out" 2>"$work/server.err" &
server=$!
port=""
for _ in $(seq 600); do
  port=$(sed -n 's/.* on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/server.out")
  [[ -n "$port" ]] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "image_pipeline.sh: the server did not start" >&2; exit 1; }
stream() {  # pipeline -> images/s of epoch 1, after a warm-up epoch 0 (page cache, server)
  build/client/dataloader_client --target="127.0.0.1:$port" --pipeline="$1" \
    --epoch=0 --json >/dev/null
  build/client/dataloader_client --target="127.0.0.1:$port" --pipeline="$1" \
    --epoch=1 --verify --json | tee "$work/service_$1.json" >&2
  sed -n 's/.*"samples_per_second": \([0-9.]*\).*/\1/p' "$work/service_$1.json"
}
service=$(stream imagenet_train)
service_uint8=$(stream imagenet_train_uint8)
rss=$(awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$server/status")
kill -TERM "$server"; wait "$server" || true; server=""
echo "server peak RSS: $rss MiB"

torch_rate="skipped"
torch_uint8="skipped"
if ((torch)); then
  echo "== torch: DataLoader(num_workers=$cores), torchvision transforms"
  /usr/bin/python3 tests/benchmarks/torch_baseline.py "$dataset/train" --workers="$cores" \
    | tee "$work/torch"
  torch_rate=$(sed -n 's/^torch_images_per_s=//p' "$work/torch")
  /usr/bin/python3 tests/benchmarks/torch_baseline.py "$dataset/train" --workers="$cores" \
    --uint8 | tee "$work/torch_uint8"
  torch_uint8=$(sed -n 's/^torch_images_per_s=//p' "$work/torch_uint8")
fi

awk -v s="$service" -v l="$decode_limit" -v t="$torch_rate" \
    -v s8="$service_uint8" -v l8="$decode_limit_uint8" -v t8="$torch_uint8" 'BEGIN {
  printf "float32: service / decode_limit = %.2f (target >= 0.9)", s / l
  if (t != "skipped") printf ", service / torch = %.2f (target >= 2.0)", s / t
  printf "\nuint8:   service / decode_limit = %.2f (target >= 0.9; decode_limit=%s)", s8 / l8, l8
  if (t8 != "skipped") printf ", service / torch = %.2f (target >= 2.0)", s8 / t8
  printf "\n" }'
echo "server peak RSS: $rss MiB"
echo "images/s: service=$service decode_limit=$decode_limit torch=$torch_rate"
echo "images/s uint8: service=$service_uint8 torch=$torch_uint8"
