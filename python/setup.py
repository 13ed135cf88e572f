# Copyright 2026 The dataloader Authors.
"""Packaging of dataloader_client: the pure-Python modules, plus the native extension
(_native*.so) built by the project's CMake when there is one.

    # Debian 12, after the CMake build (scripts/run.sh or scripts/test.sh):
    /usr/bin/python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation --no-index ./python
    # A pure-Python wheel, for trainer machines without Debian 12's gRPC libraries:
    DATALOADER_NATIVE=none /usr/bin/python3 -m pip wheel --no-build-isolation --no-index \\
        --no-deps ./python -w dist

DATALOADER_NATIVE: the extension to include (a path to _native*.so), "none" for none;
default: the one in ../build/python/dataloader_client if it exists. With the extension the
wheel is specific to this platform and Python (and needs Debian 12's libgrpc++ at run time);
without it, it is py3-none-any and needs grpcio.
"""

import glob
import os
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


def native_extension():
    chosen = os.environ.get("DATALOADER_NATIVE", "")
    if chosen == "none":
        return None
    if chosen:
        if not os.path.isfile(chosen):
            raise SystemExit(f"DATALOADER_NATIVE: no file '{chosen}'")
        return chosen
    found = glob.glob(os.path.join(HERE, "..", "build", "python", "dataloader_client",
                                   "_native*.so"))
    return found[0] if found else None


class BuildPyWithNative(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "dataloader_client")
        for stale in glob.glob(os.path.join(target, "_native*.so")):
            os.remove(stale)  # From an earlier build with the extension.
        extension = native_extension()
        if extension:
            os.makedirs(target, exist_ok=True)
            shutil.copy(extension, target)


class MaybeBinaryDistribution(Distribution):
    """A platform wheel when it carries the extension, a pure one otherwise."""

    def has_ext_modules(self):
        return native_extension() is not None


with open(os.path.join(HERE, "dataloader_client", "__init__.py")) as init:
    VERSION = re.search(r'__version__ = "([^"]+)"', init.read()).group(1)

setup(
    name="dataloader-client",
    version=VERSION,
    description="Python client of the dataloader service (native C++ backend or grpcio)",
    packages=["dataloader_client"],
    python_requires=">=3.9",
    install_requires=["numpy"] + ([] if native_extension() else ["grpcio"]),
    extras_require={"torch": ["torch"]},
    cmdclass={"build_py": BuildPyWithNative},
    distclass=MaybeBinaryDistribution,
)
