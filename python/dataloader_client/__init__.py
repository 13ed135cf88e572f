# Copyright 2026 The dataloader Authors.
"""dataloader_client: the Python client of the dataloader service.

    import dataloader_client as dl
    client = dl.Client("loader:50051")
    print(client.list_pipelines())
    with client.stream("train", shard_index=rank, shard_count=world, epoch=epoch) as stream:
        for batch in stream:
            images = batch.tensors["image"]     # numpy, over the received bytes
            labels = batch.tensors["label"]

`backend` says which implementation is active: "native" (the C++ client library through the
_native extension: receiving, parsing, reconnecting and prefetching without the GIL) or
"python" (grpcio, with the same API and behaviour). PyTorch: dataloader_client.torch.
Command line: python3 -m dataloader_client list|stream --help.
"""

from . import _backends
from ._client import Client, Stream
from ._errors import DataLoaderError, StatusCode
from ._types import Batch, PipelineInfo, TensorSpec

__all__ = ["Batch", "Client", "DataLoaderError", "PipelineInfo", "StatusCode", "Stream",
           "TensorSpec", "backend", "resolve_replicas"]
__version__ = "0.1.0"

#: "native" or "python": the backend a Client uses by default.
backend = _backends.default()


def resolve_replicas(spec, backend=None):
    """The replicas named by `spec` ("HOST:PORT,HOST:PORT" or "dns:NAME:PORT"), sorted."""
    return _backends.get(backend).resolve_replicas(spec)
