# dataloader: dataloader_server (entrypoint), dataloader_client and dataloader_health_probe on
# Debian 12. See deploy/README.md.
#
#   docker build -t dataloader .                              # with a Docker daemon
#   docker build --build-arg RUN_TESTS=0 -t dataloader .      # skip the test suite
#   deploy/container_check.sh                                 # without one (buildah + podman)
#
# BASE must be Debian 12 (bookworm): every library comes from its archive. Without a registry,
# build a local one (deploy/container_check.sh does: debootstrap, podman import) and pass
# --build-arg BASE=localhost/bookworm-base:local.
# With buildah/podman build, pass --format docker: the OCI image format has no HEALTHCHECK.
ARG BASE=debian:bookworm-slim

# The base both the build and the runtime stage start from; runtime-libs reads its package list.
FROM ${BASE} AS base

# ---------------------------------------------------------------------------------------------
# Build stage: the toolchain and -dev packages, a Release build, the default test suite.
FROM base AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# Dependencies first, in their own layer: it is reused as long as install_deps.sh is unchanged.
COPY scripts/install_deps.sh scripts/install_deps.sh
RUN scripts/install_deps.sh && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY . .
# Benchmarks are not part of the test suite (nor of the image).
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDL_BUILD_BENCHMARKS=OFF \
    && ninja -C /build -j2 \
    && rm -rf /root/.cache/ccache
# The default build's GoogleTest suites (scripts/test.sh --quick; the sanitizer builds are
# scripts/test.sh's business, not the image's). The service tests listen on 127.0.0.1:0.
# --build-arg RUN_TESTS=0 skips them.
ARG RUN_TESTS=1
RUN if [ "$RUN_TESTS" = "1" ]; then \
      cd /build && ctest -j2 --output-on-failure --timeout 300; \
    else \
      echo "RUN_TESTS=$RUN_TESTS: test suite skipped"; \
    fi

# ---------------------------------------------------------------------------------------------
# The runtime libraries: the Debian packages that own the shared libraries the three binaries
# load (their ldd closure), each copied whole (its libraries, data such as gRPC's roots.pem,
# its copyright file; no other docs or man pages), less the packages the base already has.
# Not apt-get install: a package's Depends are more than what is loaded. OpenCV's core
# library, which cv::resize needs, links libGLX (which stays: 0.1 MB, with libX11 and libxcb,
# 2 MB), but libglx0 depends on libglx-mesa0, which brings Mesa's GL drivers, LLVM and Z3 that
# nothing here ever loads: the image was 344 MB with them, 130 MB without. The symlinks on
# the way to a library are copied too (BLAS and LAPACK are found through /etc/alternatives).
# Each package gets a status file under /var/lib/dpkg/status.d/ (the convention of distroless
# images), so that image scanners (Trivy, Grype, Syft) still see its name and version; dpkg
# and apt do not read them. A library the binaries gain is found by ldd and its package
# copied; one they drop, dropped.
FROM build AS runtime-libs
COPY --from=base /var/lib/dpkg/status /base-dpkg-status
RUN set -eu; \
    in_base() { awk -v p="$1" '$1 == "Package:" { name = $2 } \
      $1 == "Status:" && name == p && /installed$/ { found = 1 } END { exit !found }' \
      /base-dpkg-status; }; \
    canonical() { echo "$(readlink -f "$(dirname "$1")")/$(basename "$1")"; }; \
    copy() { mkdir -p "/rootfs$(dirname "$1")" && cp -P "$1" "/rootfs$1"; }; \
    libs=$(ldd /build/server/dataloader_server /build/client/dataloader_client \
                /build/client/dataloader_health_probe \
           | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u); \
    reals=$(for lib in $libs; do readlink -f "$lib"; done | sort -u); \
    owners=$(dpkg-query -S $reals $(for real in $reals; do echo "${real#/usr}"; done) \
             2>/dev/null || true); \
    : > /packages; \
    for lib in $libs; do \
      real=$(readlink -f "$lib"); \
      package=$(echo "$owners" | awk -v a="$real" -v b="${real#/usr}" \
                '$2 == a || $2 == b { sub(/:.*/, "", $1); print $1; exit }'); \
      [ -n "$package" ] || { echo "no Debian package owns $lib" >&2; exit 1; }; \
      if in_base "$package"; then continue; fi; \
      echo "$package" >> /packages; \
      path=$(canonical "$lib"); \
      while [ -L "$path" ]; do \
        copy "$path"; \
        target=$(readlink "$path"); \
        case "$target" in /*) ;; *) target="$(dirname "$path")/$target" ;; esac; \
        path=$(canonical "$target"); \
      done; \
    done; \
    for package in $(sort -u /packages); do \
      dpkg-query -L "$package" | while read -r file; do \
        case "$file" in \
          /usr/share/doc/*/copyright) ;; \
          /usr/share/doc/*|/usr/share/man/*|/usr/share/info/*|/usr/share/lintian/*) continue ;; \
          /usr/share/bug/*) continue ;; \
        esac; \
        if [ -L "$file" ] || [ -f "$file" ]; then copy "$(canonical "$file")"; fi; \
      done; \
      mkdir -p /rootfs/var/lib/dpkg/status.d; \
      dpkg-query -s "$package" > "/rootfs/var/lib/dpkg/status.d/$package"; \
    done; \
    echo "runtime packages: $(sort -u /packages | tr '\n' ' ')"; \
    du -sh /rootfs
# Not a library, so ldd does not find it: the CA bundle libcurl verifies https stores
# against (remote sources). The generated bundle only, with the package's status file.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && mkdir -p /rootfs/etc/ssl/certs /rootfs/var/lib/dpkg/status.d \
    && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
    && dpkg-query -s ca-certificates > /rootfs/var/lib/dpkg/status.d/ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# ---------------------------------------------------------------------------------------------
# Runtime stage: the three binaries and the shared libraries they load, nothing else.
FROM base AS runtime
COPY --from=runtime-libs /rootfs/ /
COPY --from=build /build/server/dataloader_server \
                  /build/client/dataloader_client \
                  /build/client/dataloader_health_probe \
                  /usr/local/bin/
# Fails the build if a binary does not find a shared library, or does not start (a symbol
# version the base's libraries lack would show here): each prints its --version.
RUN ldconfig \
    && if ldd /usr/local/bin/dataloader_* | grep 'not found'; then \
         echo "missing runtime libraries (see the runtime-libs stage)" >&2; \
         exit 1; \
       fi \
    && for binary in /usr/local/bin/dataloader_*; do "$binary" --version >/dev/null; done

# Non-root. A numeric UID (USER below) lets Kubernetes verify runAsNonRoot.
RUN groupadd --gid 10001 dataloader \
    && useradd --uid 10001 --gid dataloader --no-create-home --no-log-init \
         --home-dir /nonexistent --shell /usr/sbin/nologin dataloader \
    && mkdir -p /etc/dataloader /data
# Mount paths:
#   /etc/dataloader/config.textproto  the pipelines (text-format dataloader.v1.ServerConfig).
#       Read only if DATALOADER_CONFIG points at it: mount the file AND pass
#       -e DATALOADER_CONFIG=/etc/dataloader/config.textproto. Left unset here so that the image
#       runs without a mount (built-in 'synthetic' pipeline) instead of failing on a missing
#       file.
#   /data  the datasets (read-only is enough), for the file sources to come.
# (No VOLUME: it would create an anonymous volume on every run.)
USER 10001:10001
WORKDIR /data

# A container must listen on all its interfaces: the server's default, 127.0.0.1, is the
# container's own loopback, unreachable from outside it (published ports and other containers
# included). Later flags win, so `docker run IMAGE --address=...` still overrides it; then set
# DATALOADER_HEALTH_TARGET to the new port too.
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/dataloader_server", "--address=0.0.0.0:50051"]

# SIGTERM drains: health turns NOT_SERVING, running streams get --shutdown_grace_seconds
# (default 10) to finish, then the server exits 0. Give the runtime's stop timeout a margin
# over it (docker stop -t 15, compose stop_grace_period, Kubernetes
# terminationGracePeriodSeconds), or the drain is cut by SIGKILL.
STOPSIGNAL SIGTERM
ENV DATALOADER_HEALTH_TARGET=127.0.0.1:50051
# Shell form, so that DATALOADER_HEALTH_TARGET is expanded. start-period: the server checks its
# pipelines before it listens.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD dataloader_health_probe --target="$DATALOADER_HEALTH_TARGET" --timeout_ms=3000 || exit 1
