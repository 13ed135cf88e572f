# Copyright 2026 The dataloader Authors.
"""Fixtures of the Python client's tests: real dataloader_server processes on 127.0.0.1.

The build directory is $DL_BUILD_DIR, default build/ at the repository root; the package is
imported from its build/python (the CMake build's layout: modules and the native extension).
Run: /usr/bin/python3 -m pytest tests/python   (after the CMake build; scripts/test.sh does).
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("DL_BUILD_DIR", os.path.join(REPO, "build"))
PACKAGE_DIR = os.path.join(BUILD, "python")
SERVER_BINARY = os.path.join(BUILD, "server", "dataloader_server")
CLIENT_BINARY = os.path.join(BUILD, "client", "dataloader_client")
sys.path.insert(0, PACKAGE_DIR)

import dataloader_client  # noqa: E402

# Pipelines of the tests. "small": uint8 images and int64 labels, 103 samples in batches of 8
# (12 full batches and one of 7 per epoch). "floats": float32 CHW (the fallback then meets
# misaligned float data). "slow": 5 ms per sample, one at a time, for streams that must still
# be running when something happens to them. "big": 2 MiB batches, more than the prefetch and
# the HTTP/2 windows hold. "pixels": 8x8 RGB uint8 images for the torch adapter.
CONFIG = r"""
pipelines {
  name: "small"
  synthetic { num_samples: 103 height: 4 width: 5 channels: 3 num_classes: 7 }
  batch_size: 8
}
pipelines {
  name: "floats"
  synthetic { num_samples: 40 height: 3 width: 3 channels: 3 num_classes: 5 }
  stages {
    op: "normalize"
    args { key: "mean" value: "0.5" }
    args { key: "layout" value: "chw" }
  }
  batch_size: 6
}
pipelines {
  name: "slow"
  synthetic { num_samples: 600 height: 2 width: 2 channels: 1 num_classes: 10 }
  stages {
    op: "latency"
    args { key: "millis" value: "5" }
    concurrency: 1  # Not automatic (16 at once): "one at a time" is what makes it slow.
  }
  batch_size: 10
}
pipelines {
  name: "big"
  synthetic { num_samples: 256 height: 256 width: 256 channels: 4 distinct_samples: 16 }
  batch_size: 8
}
pipelines {
  name: "pixels"
  synthetic { num_samples: 60 height: 8 width: 8 channels: 3 num_classes: 10 }
  batch_size: 8
  drop_last: true
}
"""

BACKENDS = ["native", "python"] if dataloader_client.backend == "native" else ["python"]


class Server:
    """A dataloader_server process on 127.0.0.1 serving CONFIG (or `config`)."""

    def __init__(self, config_path, port=0, flags=()):
        self.config_path = config_path
        self.flags = list(flags)
        self.metrics_port = None
        self.process = None
        self.port = None
        self.start(port)

    def start(self, port=0):
        args = [SERVER_BINARY, f"--address=127.0.0.1:{port}", "--threads=2",
                "--shutdown_grace_seconds=1", f"--config={self.config_path}", *self.flags]
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr,
                                        text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            metrics = re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", line)
            if metrics:
                self.metrics_port = int(metrics.group(1))
            serving = re.search(r" on 127\.0\.0\.1:(\d+)", line)
            if serving and "serving" in line:
                self.port = int(serving.group(1))
                return
        self.process.kill()
        self.stderr.seek(0)
        raise RuntimeError(f"dataloader_server did not start: {self.stderr.read()!r}")

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def kill(self):
        """SIGKILL: a crash, no drain."""
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def metric(self, name):
        """The value of an unlabelled Prometheus metric (needs --metrics_address)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=10) as response:
            text = response.read().decode()
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise KeyError(name)


@pytest.fixture(scope="session")
def config_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "pipelines.textproto"
    path.write_text(CONFIG)
    return str(path)


@pytest.fixture(scope="session")
def server(config_path):
    """One server shared by the tests that only read from it."""
    process = Server(config_path)
    yield process
    process.stop()


@pytest.fixture
def make_server(config_path):
    """Servers of one test, stopped after it: make_server(port=0, flags=())."""
    started = []

    def make(port=0, flags=()):
        process = Server(config_path, port, flags)
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_python(code, *args, timeout=120, env=None):
    """Runs `code` in a new /usr/bin/python3 process with the package importable; returns
    (exit code, stdout, stderr)."""
    full_env = dict(os.environ, PYTHONPATH=PACKAGE_DIR + os.pathsep + os.path.dirname(__file__))
    full_env.update(env or {})
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                            timeout=timeout, env=full_env)
    return result.returncode, result.stdout, result.stderr
