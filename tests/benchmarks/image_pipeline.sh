#!/usr/bin/env bash
# The image pipeline benchmark, in one run on this machine:
#   1. generates (or reuses) a dataset of ~2,000 images of ~500x375 (JPEG, some PNG and
#      grayscale) in the ImageNet layout with make_image_dataset;
#   2. decode_limit: the training pipeline's per-sample stages (read, decode + random resized
#      crop 224 + flip, normalize) on one thread (image_decode_rate) x cores: the most any
#      loader could deliver here;
#   3. service: the training pipeline (deploy/pipelines/imagenet_train.textproto, its CPU
#      stages' concurrency 2 x cores as its comments say) served by dataloader_server and
#      streamed by dataloader_client over loopback,
#      one full epoch after a warm-up epoch, plus the server's peak RSS;
#   4. torch: PyTorch's DataLoader (num_workers = cores, torchvision transforms of the same
#      work, batch 32) on the same files (tests/benchmarks/torch_baseline.py).
# Ends with one line: images/s: service=X decode_limit=Y torch=Z
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
# The shipped training config, pointed at the dataset, its CPU stages at 2 tasks per core.
sed -e "s#/data/imagenet/train#$dataset/train#" \
    -e "s#^    concurrency: 4\$#    concurrency: $((2 * cores))#" \
    deploy/pipelines/imagenet_train.textproto >"$work/train.textproto"

echo "== decode limit: per-sample stages on one thread x $cores cores"
build/tests/benchmarks/image_decode_rate --config="$work/train.textproto" \
  --pipeline=imagenet_train | tee "$work/limit"
single=$(sed -n 's/^single_thread_images_per_s=//p' "$work/limit")
decode_limit=$(awk -v s="$single" -v c="$cores" 'BEGIN {printf "%.1f", s * c}')

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
# Epoch 0 warms the page cache and the server; epoch 1 is measured.
build/client/dataloader_client --target="127.0.0.1:$port" --pipeline=imagenet_train \
  --epoch=0 --json >/dev/null
build/client/dataloader_client --target="127.0.0.1:$port" --pipeline=imagenet_train \
  --epoch=1 --verify --json | tee "$work/service.json"
service=$(sed -n 's/.*"samples_per_second": \([0-9.]*\).*/\1/p' "$work/service.json")
rss=$(awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$server/status")
kill -TERM "$server"; wait "$server" || true; server=""
echo "server peak RSS: $rss MiB"

torch_rate="skipped"
if ((torch)); then
  echo "== torch: DataLoader(num_workers=$cores), torchvision transforms"
  /usr/bin/python3 tests/benchmarks/torch_baseline.py "$dataset/train" --workers="$cores" \
    | tee "$work/torch"
  torch_rate=$(sed -n 's/^torch_images_per_s=//p' "$work/torch")
fi

awk -v s="$service" -v l="$decode_limit" -v t="$torch_rate" 'BEGIN {
  printf "service / decode_limit = %.2f (target >= 0.9)\n", s / l
  if (t != "skipped") printf "service / torch = %.2f (target >= 2.0)\n", s / t }'
echo "server peak RSS: $rss MiB"
echo "images/s: service=$service decode_limit=$decode_limit torch=$torch_rate"
