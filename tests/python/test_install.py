# Copyright 2026 The dataloader Authors.
"""Installing the package as the README says: into a venv with the system's site packages
(with the CMake-built extension), and as a pure-Python wheel (for machines without Debian 12's
gRPC libraries), each then used from outside the source tree."""

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import PACKAGE_DIR, REPO

NATIVE = glob.glob(os.path.join(PACKAGE_DIR, "dataloader_client", "_native*.so"))


def sh(args, cwd, env=None, timeout=300):
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env=dict(os.environ, **(env or {})))
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def source(tmp_path):
    """A copy of python/ (building writes build/ and egg-info next to setup.py)."""
    copy = tmp_path / "src"
    shutil.copytree(os.path.join(REPO, "python"), copy,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return copy


def venv(path):
    sh([sys.executable, "-m", "venv", "--system-site-packages", str(path)], cwd=path.parent)
    return str(path / "bin" / "python")


def streams_two_batches(python, target, cwd):
    out = sh([python, "-m", "dataloader_client", "stream", f"--target={target}",
              "--pipeline=small", "--max_batches=2", "--json", "--verify"], cwd=cwd)
    return json.loads(out)


@pytest.mark.skipif(not NATIVE, reason="the native extension is not built")
def test_venv_install_with_the_native_extension(tmp_path, source, server):
    python = venv(tmp_path / "venv")
    sh([python, "-m", "pip", "install", "--no-build-isolation", "--no-index", str(source)],
       cwd=tmp_path, env={"DATALOADER_NATIVE": NATIVE[0]})
    out = sh([python, "-c", "import dataloader_client as d; print(d.backend, d.__file__)"],
             cwd=tmp_path)
    backend, where = out.split()
    assert backend == "native" and where.startswith(str(tmp_path / "venv"))
    summary = streams_two_batches(python, server.target, tmp_path)
    assert summary["backend"] == "native" and summary["batches"] == 2 and summary["verified"]


def test_pure_python_wheel(tmp_path, source, server):
    sh([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-index", "--no-deps",
        str(source), "-w", str(tmp_path / "dist")], cwd=tmp_path,
       env={"DATALOADER_NATIVE": "none"})
    wheels = os.listdir(tmp_path / "dist")
    assert wheels == ["dataloader_client-0.1.0-py3-none-any.whl"]
    python = venv(tmp_path / "venv")
    sh([python, "-m", "pip", "install", "--no-index", str(tmp_path / "dist" / wheels[0])],
       cwd=tmp_path)
    out = sh([python, "-c", "import dataloader_client as d; print(d.backend)"], cwd=tmp_path)
    assert out.strip() == "python"
    summary = streams_two_batches(python, server.target, tmp_path)
    assert summary["backend"] == "python" and summary["batches"] == 2 and summary["verified"]
