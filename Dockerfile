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

# ---------------------------------------------------------------------------------------------
# Build stage: the toolchain and -dev packages, a Release build, the default test suite.
FROM ${BASE} AS build
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
# Runtime stage: the three binaries and the shared libraries they load, nothing else.
FROM ${BASE} AS runtime
# The runtime shared libraries, all in this one list (Debian 12 package names). Found with
#   ldd <binary> | awk '/=>/{print $3}' | xargs -n1 readlink -f | xargs dpkg -S
# on the built binaries: gRPC (libgrpc++1.51, libgrpc29, which pulls c-ares, re2, OpenSSL and
# zlib), Protobuf (libprotobuf32), Abseil (libabsl20220623), and the image ops' decoders and
# resizer: libturbojpeg0 (JPEG), libspng0 (PNG), libopencv-imgproc406 (cv::resize; it pulls
# libopencv-core406 with BLAS/LAPACK and TBB), prometheus-cpp with its civetweb HTTP
# server for --metrics_address, and the remote sources' libcurl4 (HTTP(S), S3) and libexpat1
# (S3 listings), with ca-certificates to verify stores over https. When a binary gains a
# library, add its package here: the ldd check below fails the build if one is missing.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
         libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 \
         libturbojpeg0 libspng0 libopencv-imgproc406 \
         libprometheus-cpp-pull1.0 libprometheus-cpp-core1.0 libcivetweb1 \
         libcurl4 libexpat1 ca-certificates \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /build/server/dataloader_server \
                  /build/client/dataloader_client \
                  /build/client/dataloader_health_probe \
                  /usr/local/bin/
# Fails the build if a binary needs a shared library the list above does not install.
RUN if ldd /usr/local/bin/dataloader_* | grep 'not found'; then \
      echo "missing runtime libraries: add their packages to the apt-get line above" >&2; \
      exit 1; \
    fi

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
