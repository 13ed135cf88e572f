#!/usr/bin/env bash
# Builds the image from the top-level Dockerfile WITHOUT a Docker daemon or a registry
# (buildah + podman, rootful, vfs storage, chroot isolation), runs it, checks health, streams
# batches from it with the image's own client, and stops it with SIGTERM while a full epoch
# streams (the stream must complete and the server exit 0). Prints the build time and the
# image size. About 3 min cold on 2 cores, under 1 min when nothing changed.
# Exits nonzero on any failure. Debian 12, as root.
#
# Usage: deploy/container_check.sh [--no-tests]      (--no-tests: --build-arg RUN_TESTS=0)
# Environment (all optional):
#   IMAGE=localhost/dataloader:check      the tag built and run
#   BASE_CACHE=/var/tmp/dataloader-base   where the debootstrapped base rootfs tarball is kept
#   PORT=50071                            the server's port (host networking: pick a free one)
#   MAX_BATCHES=100                       batches the client streams
#   DRAIN_GRACE=60                        the server's drain deadline in this check (seconds):
#                                         the full epoch streamed across SIGTERM must finish
#                                         within it (~2 s idle, ~25 s on a busy 2-core host)
#   REBUILD_BASE=1                        debootstrap the base again even if cached
#   CONTEXT=.                             the build context (a tree with the Dockerfile), e.g.
#                                         an export of a commit while the work tree is mid-edit
#
# The base image: no registry is reachable here, so debian:bookworm-slim cannot be pulled.
# A minbase bookworm rootfs is debootstrapped once (~30 s), cached as a tarball under
# BASE_CACHE, and imported as localhost/bookworm-base:local; the Dockerfile gets it through
# --build-arg BASE=. Its apt sources are the host's, as on a bookworm-slim image.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/dataloader:check}
BASE_IMAGE=localhost/bookworm-base:local
BASE_CACHE=${BASE_CACHE:-/var/tmp/dataloader-base}
PORT=${PORT:-50071}
MAX_BATCHES=${MAX_BATCHES:-100}
DRAIN_GRACE=${DRAIN_GRACE:-60}
CONTEXT=${CONTEXT:-.}
RUN_TESTS=1
[[ "${1:-}" == "--no-tests" ]] && RUN_TESTS=0
CONTAINER=dataloader-check-$$
# vfs: works on any host filesystem (no overlay/fuse needed). Every podman/buildah call must
# use the same storage driver, or it does not see the images.
STORAGE=(--storage-driver vfs)
PODMAN=(podman_filtered "${STORAGE[@]}" --runtime runc)
# podman logs "unable to get systemd connection" for every container of an image with a
# HEALTHCHECK (it would schedule it with a systemd timer; there is no systemd here): drop just
# those lines.
podman_filtered() {
  podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2)
}
# podman otherwise copies the host's limits, which this kind of VM refuses to set.
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

t0=$(date +%s)
step() { printf '\n[container_check +%ss] %s\n' "$(($(date +%s) - t0))" "$*"; }
fail() {
  printf '[container_check] FAILED: %s\n' "$*" >&2
  exit 1
}

if [[ $(id -u) -ne 0 ]]; then
  fail "run as root (rootful buildah/podman, debootstrap)"
fi

step "tools: buildah podman runc debootstrap"
missing=()
for tool in buildah podman runc debootstrap; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
buildah --version
podman --version

step "base image $BASE_IMAGE"
if [[ "${REBUILD_BASE:-0}" == "1" ]]; then
  "${PODMAN[@]}" rmi -f "$BASE_IMAGE" >/dev/null 2>&1 || true
  rm -f "$BASE_CACHE/rootfs.tar"
fi
if "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
  echo "present in podman storage"
else
  if [[ ! -s "$BASE_CACHE/rootfs.tar" ]]; then
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
      true)
    mirror=${mirror:-http://deb.debian.org/debian}
    echo "debootstrap --variant=minbase bookworm from $mirror (about a minute)"
    mkdir -p "$BASE_CACHE"
    rootfs="$BASE_CACHE/rootfs.tmp"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$BASE_CACHE/debootstrap.log" 2>&1 ||
      {
        tail -20 "$BASE_CACHE/debootstrap.log" >&2
        fail "debootstrap (log: $BASE_CACHE/debootstrap.log)"
      }
    # The host's apt sources (bookworm, -updates, -security) and its apt settings for them
    # (e.g. a snapshot mirror needs Check-Valid-Until off), as a bookworm-slim image has.
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
      cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
      rm -f "$rootfs/etc/apt/sources.list"
    fi
    grep -l 'Check-Valid-Until\|Check-Date' /etc/apt/apt.conf.d/* 2>/dev/null |
      xargs -r -I{} cp {} "$rootfs/etc/apt/apt.conf.d/"
    # Slim it the way debian:bookworm-slim is (docs, man pages, locales left out by dpkg).
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/{man,info,locale,lintian,linda}/*
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
      "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -cf "$BASE_CACHE/rootfs.tar.tmp" .
    mv "$BASE_CACHE/rootfs.tar.tmp" "$BASE_CACHE/rootfs.tar"
    rm -rf "$rootfs"
  else
    echo "using the cached rootfs $BASE_CACHE/rootfs.tar"
  fi
  "${PODMAN[@]}" import "$BASE_CACHE/rootfs.tar" "$BASE_IMAGE" >/dev/null
  echo "imported"
fi

step "build $IMAGE from $CONTEXT (RUN_TESTS=$RUN_TESTS; cold: about 3 min on 2 cores)"
build_start=$(date +%s)
# --isolation chroot: crun/runc containers fail on this host's cgroups during builds.
# --format docker: keeps HEALTHCHECK (the OCI format drops it). --layers: reruns reuse the
# cached steps (dependencies, and the build itself when no source changed).
buildah "${STORAGE[@]}" bud --isolation chroot --format docker --layers \
  --build-arg BASE="$BASE_IMAGE" --build-arg RUN_TESTS="$RUN_TESTS" \
  -t "$IMAGE" -f "$CONTEXT/Dockerfile" "$CONTEXT" || fail "image build"
build_seconds=$(($(date +%s) - build_start))
size_bytes=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
size_mb=$(awk -v b="$size_bytes" 'BEGIN{printf "%.1f", b / 1e6}')
base_bytes=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$BASE_IMAGE")
base_mb=$(awk -v b="$base_bytes" 'BEGIN{printf "%.1f", b / 1e6}')
echo "built in ${build_seconds}s; image size ${size_mb} MB (base ${base_mb} MB)"
healthcheck=$("${PODMAN[@]}" image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE" 2>/dev/null ||
  true)
[[ "$healthcheck" == *dataloader_health_probe* ]] || fail "the image has no HEALTHCHECK: $healthcheck"

cleanup() {
  "${PODMAN[@]}" rm -f "$CONTAINER" >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "run $CONTAINER on 127.0.0.1:$PORT with deploy/kubernetes/pipeline_config.textproto mounted"
# Host networking (podman's own networks need root-only netavark/slirp setup this VM lacks).
# The override binds loopback on a non-default port: with --network host, the image's default
# 0.0.0.0:50051 would publish a plaintext service on every interface of the host.
# DATALOADER_HEALTH_TARGET keeps the image's HEALTHCHECK on the same port.
# DATALOADER_SHUTDOWN_GRACE_SECONDS: the drain step checks that a stream running at SIGTERM
# completes, so its deadline must outlast a whole epoch even on a loaded machine (the image's
# 10 s did not, at 80 MB/s on a shared 2-core host: the server then correctly ended the
# stream with UNAVAILABLE, and the check failed on the speed of the machine).
# --read-only, --cap-drop, no-new-privileges: as the Kubernetes manifests run it. The image's
# HEALTHCHECK is not scheduled here (podman would use systemd timers); `podman healthcheck
# run` below runs it once by hand.
"${PODMAN[@]}" run -d --name "$CONTAINER" --network host "${ULIMITS[@]}" \
  --read-only --cap-drop=ALL --security-opt=no-new-privileges \
  -v "$PWD/deploy/kubernetes/pipeline_config.textproto:/etc/dataloader/config.textproto:ro" \
  -e DATALOADER_CONFIG=/etc/dataloader/config.textproto \
  -e DATALOADER_HEALTH_TARGET="127.0.0.1:$PORT" \
  -e DATALOADER_SHUTDOWN_GRACE_SECONDS="$DRAIN_GRACE" \
  "$IMAGE" --address="127.0.0.1:$PORT" >/dev/null || fail "podman run"

step "wait for SERVING (dataloader_health_probe in the container, up to 60 s)"
serving=0
for _ in $(seq 120); do
  running=$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$CONTAINER" 2>/dev/null || echo false)
  if [[ "$running" != "true" ]]; then
    "${PODMAN[@]}" logs "$CONTAINER" >&2 || true
    fail "the server exited before serving"
  fi
  if "${PODMAN[@]}" exec "$CONTAINER" dataloader_health_probe --target="127.0.0.1:$PORT" \
    --timeout_ms=1000 >/dev/null 2>&1; then
    serving=1
    break
  fi
  sleep 0.5
done
((serving)) || {
  "${PODMAN[@]}" logs "$CONTAINER" >&2 || true
  fail "not SERVING within 60 s"
}
"${PODMAN[@]}" exec "$CONTAINER" dataloader_health_probe --target="127.0.0.1:$PORT"
"${PODMAN[@]}" exec "$CONTAINER" dataloader_health_probe --target="127.0.0.1:$PORT" \
  --service=dataloader.v1.DataLoader
# The image's own HEALTHCHECK command (prints nothing and exits 0 when healthy).
"${PODMAN[@]}" healthcheck run "$CONTAINER" || fail "the image's HEALTHCHECK reports unhealthy"
echo "image HEALTHCHECK: healthy"
"${PODMAN[@]}" logs "$CONTAINER"

step "stream $MAX_BATCHES batches with dataloader_client from a second container (--verify)"
"${PODMAN[@]}" run --rm --network host "${ULIMITS[@]}" --no-healthcheck \
  --entrypoint dataloader_client "$IMAGE" \
  --target="127.0.0.1:$PORT" --list || fail "dataloader_client --list"
summary=$("${PODMAN[@]}" run --rm --network host "${ULIMITS[@]}" --no-healthcheck \
  --entrypoint dataloader_client \
  "$IMAGE" --target="127.0.0.1:$PORT" --pipeline=synthetic --verify \
  --max_batches="$MAX_BATCHES") || fail "dataloader_client --verify (exit $?)"
echo "$summary"

step "drain: SIGTERM while a full-epoch stream runs; the stream must complete, the server exit 0"
work=$(mktemp -d)
"${PODMAN[@]}" run --rm --network host "${ULIMITS[@]}" --no-healthcheck \
  --entrypoint dataloader_client "$IMAGE" --target="127.0.0.1:$PORT" --pipeline=synthetic \
  --verify --epoch=1 >"$work/drain.out" 2>"$work/drain.err" &
drain_client=$!
# SIGTERM once the server has started that stream (its second one).
for _ in $(seq 100); do
  [[ $("${PODMAN[@]}" logs "$CONTAINER" 2>&1 | grep -c "stream start") -ge 2 ]] && break
  sleep 0.1
done
stop_start=$(date +%s)
# -t: seconds before SIGKILL; more than the server's drain deadline (DRAIN_GRACE).
"${PODMAN[@]}" stop -t "$((DRAIN_GRACE + 10))" "$CONTAINER" >/dev/null
stop_seconds=$(($(date +%s) - stop_start))
drain_status=0
wait "$drain_client" || drain_status=$?
exit_code=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$CONTAINER")
logs=$("${PODMAN[@]}" logs "$CONTAINER" 2>&1)
echo "$logs" | tail -4
echo "client during the drain: $(cat "$work/drain.out") $(tail -1 "$work/drain.err")"
[[ "$exit_code" == "0" ]] || fail "the server exited $exit_code after SIGTERM"
grep -q "SIGTERM, shutting down" <<<"$logs" || fail "no SIGTERM line in the server log"
grep -q "dataloader_server: stopped" <<<"$logs" || fail "no 'stopped' line in the server log"
((drain_status == 0)) || fail "the stream running during the drain failed (exit $drain_status)"
if sed -n '/SIGTERM, shutting down/,$p' <<<"$logs" | grep -q "stream end.*status=OK"; then
  echo "the stream finished after SIGTERM (drained)"
else
  echo "note: the stream ended before SIGTERM arrived; the drain was not exercised"
fi
rm -rf "$work"
echo "exit code 0 after SIGTERM, stopped in ${stop_seconds}s"

total=$(($(date +%s) - t0))
step "OK in ${total}s: build ${build_seconds}s, image $IMAGE ${size_mb} MB"
echo "client: $summary"
