# Copyright 2026 The dataloader Authors.
"""Which backend serves a Client: "native" (the _native extension over the C++ client
library) when it is built, else "python" (grpcio). DATALOADER_CLIENT_BACKEND=python|native
overrides the default."""

import importlib
import os

from ._errors import invalid_argument

_MODULES = {"native": "._native_backend", "python": "._grpc_backend"}


def _native_available():
    try:
        importlib.import_module("._native", __package__)
    except ImportError:
        return False
    return True


def default():
    chosen = os.environ.get("DATALOADER_CLIENT_BACKEND", "")
    if chosen:
        if chosen not in _MODULES:
            raise invalid_argument(
                f"DATALOADER_CLIENT_BACKEND must be 'native' or 'python', got '{chosen}'")
        return chosen
    return "native" if _native_available() else "python"


def get(name=None):
    """The backend module called `name` (None: the default)."""
    name = name or default()
    if name not in _MODULES:
        raise invalid_argument(f"backend must be 'native' or 'python', got '{name}'")
    try:
        return importlib.import_module(_MODULES[name], __package__)
    except ImportError as error:
        hint = ("the extension _native is not built (see the README: the project's CMake "
                "builds it)" if name == "native" else "grpcio is not installed")
        raise ImportError(f"dataloader_client backend '{name}' is not available: {hint} "
                          f"({error})") from error
