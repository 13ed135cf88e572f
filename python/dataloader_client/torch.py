# Copyright 2026 The dataloader Authors.
"""PyTorch adapter: DataLoaderDataset, an IterableDataset over a dataloader service.

    from dataloader_client.torch import DataLoaderDataset
    dataset = DataLoaderDataset("imagenet_train", target="loader:50051", seed=0,
                                device="cuda:0", normalize=([0.485, 0.456, 0.406],
                                                            [0.229, 0.224, 0.225]))
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=0)
    for epoch in range(epochs):
        dataset.set_epoch(epoch)          # optional: without it, each pass is the next epoch
        for batch in loader:              # dict: "image", "label", ..., "sample_ids"
            train_step(batch["image"], batch["label"])
        torch.save({"model": ..., "data": dataset.state_dict()}, path)

Each rank streams its shard of the epoch: rank and world size from the arguments, else
torch.distributed when it is initialized, else the RANK / WORLD_SIZE environment. Every rank
gets the same number of batches (len()), so ranks step together.

Tensors are torch views of the received arrays (torch.from_numpy: no copy). With `device`,
each batch is copied through a small ring of reused pinned host buffers with non_blocking
copies on a side CUDA stream; the consumer's stream waits on an event, so the next batch's
copy overlaps the current step. `normalize=(mean, std)` turns the uint8 NHWC image tensor
into float32 NCHW in channels_last memory, normalized, on the device (4x fewer bytes on the
wire than float32 from the server). On a machine without CUDA the same path runs without
pinning (said once).

state_dict() / load_state_dict(): the position after the last batch handed out (the resume
token, with the merge position of a merged stream): loading it in a new process, against the
same or a restarted server with the same pipeline config, continues exactly there, nothing
lost or repeated. A state saved for another pipeline, world size, rank, seed or scale-out is
refused with an error that says which.
"""

import contextlib
import os
import warnings

import numpy as np
import torch
import torch.utils.data

from ._client import Client
from ._errors import invalid_argument

_STATE_FORMAT = "dataloader_client.torch.DataLoaderDataset"
_STATE_VERSION = 1

_WORKERS_ERROR = (
    "DataLoaderDataset must be read with DataLoader(num_workers=0) (got num_workers={n}): "
    "the service already does the loading and preprocessing, and each batch arrives ready in "
    "this process. Worker processes would copy every batch once more through shared memory, "
    "and each would need its own gRPC channel (a channel cannot be shared across fork), "
    "streaming the same shard again. Use num_workers=0; for more throughput raise "
    "streams_per_replica or add loader replicas.")

_said = set()


def _say_once(key, message):
    if key not in _said:
        _said.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _resolve_rank(rank, world_size):
    """(rank, world_size): the arguments, else torch.distributed, else RANK/WORLD_SIZE."""
    if rank is None or world_size is None:
        distributed = torch.distributed
        if distributed.is_available() and distributed.is_initialized():
            rank = distributed.get_rank() if rank is None else rank
            world_size = distributed.get_world_size() if world_size is None else world_size
    for name, value, default in (("RANK", rank, 0), ("WORLD_SIZE", world_size, 1)):
        if value is None:
            text = os.environ.get(name)
            if text is None:
                value = default
            else:
                try:
                    value = int(text)
                except ValueError:
                    raise invalid_argument(f"environment {name} must be an integer, got "
                                           f"'{text}'") from None
        if name == "RANK":
            rank = value
        else:
            world_size = value
    if not isinstance(world_size, int) or world_size < 1:
        raise invalid_argument(f"world_size must be >= 1, got {world_size!r}")
    if not isinstance(rank, int) or not 0 <= rank < world_size:
        raise invalid_argument(f"rank must be in [0, {world_size}), got {rank!r}")
    return rank, world_size


class Normalize:
    """uint8 [N, H, W, C] -> float32 [N, C, H, W] in channels_last memory,
    ((x / 255) - mean[c]) / std[c], on x's device. The permuted NHWC tensor already has
    channels_last strides: one pass converts and scales it, no transpose is copied."""

    def __init__(self, mean, std):
        mean = [float(m) for m in (mean if hasattr(mean, "__len__") else [mean])]
        std = [float(s) for s in (std if hasattr(std, "__len__") else [std])]
        if len(mean) != len(std) or not mean:
            raise invalid_argument(f"normalize: mean and std must have the same, non-zero "
                                   f"length, got {len(mean)} and {len(std)}")
        for s in std:
            if not s > 0 or s == float("inf"):
                raise invalid_argument(f"normalize: every std must be > 0 and finite, got {std}")
        for m in mean:
            if m != m or abs(m) == float("inf"):
                raise invalid_argument(f"normalize: every mean must be finite, got {mean}")
        self.mean, self.std = mean, std
        self._constants = {}

    def __call__(self, name, x):
        channels = len(self.mean)
        if x.dtype != torch.uint8 or x.dim() != 4 or (x.shape[3] != channels and channels != 1):
            raise invalid_argument(
                f"normalize: tensor '{name}' must be uint8 [N, H, W, C] with C = {channels} "
                f"(the length of mean and std), got {x.dtype} {list(x.shape)}")
        key = (x.device, x.shape[3])
        if key not in self._constants:
            c = x.shape[3]
            mean = self.mean * c if channels == 1 else self.mean
            std = self.std * c if channels == 1 else self.std
            scale = torch.tensor([1.0 / (255.0 * s) for s in std], dtype=torch.float32)
            shift = torch.tensor([m / s for m, s in zip(mean, std)], dtype=torch.float32)
            self._constants[key] = (scale.view(1, c, 1, 1).to(x.device),
                                    shift.view(1, c, 1, 1).to(x.device))
        scale, shift = self._constants[key]
        out = x.permute(0, 3, 1, 2).to(torch.float32)  # Keeps the channels_last strides.
        out.mul_(scale).sub_(shift)
        return out.contiguous(memory_format=torch.channels_last)


class _DeviceFeeder:
    """Copies batches to `device` through a ring of reused host staging buffers: pinned, with
    non_blocking copies on a side CUDA stream and the consumer's stream waiting on an event,
    on a CUDA device; plain buffers and ordinary copies elsewhere (the same steps, so the path
    is exercised on CPU-only machines)."""

    def __init__(self, device, ring_size, normalize, normalize_key):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            if not torch.cuda.is_available():
                raise invalid_argument(f"device '{device}': CUDA is not available here")
            self.stream = torch.cuda.Stream(self.device)
        else:
            self.stream = None
            _say_once(("no-pinning", str(self.device)),
                      f"dataloader_client.torch: device '{self.device}' is not a CUDA device: "
                      "staging buffers are not pinned and copies are synchronous")
        self.ring = [{} for _ in range(max(ring_size, 1))]
        self.events = [None] * len(self.ring)
        self.slot = 0
        self.normalize = normalize
        self.normalize_key = normalize_key

    def __call__(self, tensors):
        slot = self.slot
        self.slot = (slot + 1) % len(self.ring)
        if self.events[slot] is not None:
            # The copy out of this slot, two batches ago, must be done before it is reused.
            self.events[slot].synchronize()
        buffers = self.ring[slot]
        out = {}
        consumer = torch.cuda.current_stream(self.device) if self.cuda else None
        context = torch.cuda.stream(self.stream) if self.cuda else contextlib.nullcontext()
        with context:
            for name, tensor in tensors.items():
                host = buffers.get(name)
                if host is None or host.shape != tensor.shape or host.dtype != tensor.dtype:
                    host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=self.cuda)
                    buffers[name] = host
                host.copy_(tensor)
                moved = host.to(self.device, non_blocking=self.cuda, copy=True)
                if self.normalize is not None and name == self.normalize_key:
                    moved = self.normalize(name, moved)
                if self.cuda:
                    # Allocated on the side stream, used on the consumer's: the caching
                    # allocator must not reuse it before the consumer is done with it.
                    moved.record_stream(consumer)
                out[name] = moved
            if self.cuda:
                event = torch.cuda.Event()
                event.record(self.stream)
                self.events[slot] = event
                consumer.wait_event(event)
        return out


def _as_torch(array, dtype_name):
    if dtype_name == "bfloat16":
        # The raw bits, carried as uint16, which torch cannot take: reinterpreted, no copy.
        array = array.view(np.int16)
    if not array.flags.writeable:
        # The pure-Python backend's arrays are views of immutable received bytes; torch warns
        # about read-only arrays, but nothing here writes to them.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            tensor = torch.from_numpy(array)
    else:
        tensor = torch.from_numpy(array)
    if dtype_name == "bfloat16":
        tensor = tensor.view(torch.bfloat16)
    return tensor


class DataLoaderDataset(torch.utils.data.IterableDataset):
    """An IterableDataset of a dataloader pipeline's batches (dicts of torch tensors).

    Args:
      pipeline: the pipeline's name on the server.
      target / replicas: the server, or the replicas (a list or "dns:NAME:PORT"); exactly one.
      streams_per_replica: K sub-streams per replica (see dataloader_client.Client).
      seed: the seed of every epoch's order and augmentations.
      epoch: the first epoch.
      rank, world_size: this trainer's shard; default: torch.distributed when initialized,
        else the RANK / WORLD_SIZE environment, else 0 of 1.
      device: None (CPU tensors over the received bytes) or a torch device ("cuda:0"):
        batches are copied there through pinned staging buffers on a side stream.
      normalize: (mean, std) per channel: the `normalize_key` tensor (uint8 NHWC) becomes
        normalized float32 NCHW (channels_last), on `device` if given.
      normalize_key: the image tensor's name. Default "image".
      auto_next_epoch: after a complete pass, the next pass streams the next epoch (for
        frameworks that never call set_epoch). Default True; set_epoch() overrides it.
      max_batches: at most this many batches per epoch (0: all). len() accounts for it.
      prefetch: batches received ahead, per sub-stream. Default 4.
      ring_size: staging buffers in the device ring. Default 3.
      backend: "native" or "python" (default: dataloader_client.backend).
      **client_options: passed to dataloader_client.Client (tls_ca_file, auth_token,
        failover_targets, max_retries, ...).
    """

    def __init__(self, pipeline, *, target=None, replicas=None, streams_per_replica=1, seed=0,
                 epoch=0, rank=None, world_size=None, device=None, normalize=None,
                 normalize_key="image", auto_next_epoch=True, max_batches=0, prefetch=4,
                 ring_size=3, backend=None, **client_options):
        super().__init__()
        if (target is None) == (replicas is None):
            raise invalid_argument("give exactly one of target and replicas")
        self.pipeline = pipeline
        self.seed = int(seed)
        self.rank_arg, self.world_size_arg = rank, world_size
        self.device = device
        self.normalize = Normalize(*normalize) if normalize is not None else None
        self.normalize_key = normalize_key
        self.auto_next_epoch = auto_next_epoch
        self.max_batches = int(max_batches)
        self.prefetch = prefetch
        self.ring_size = ring_size
        self._client_args = dict(target=target, replicas=replicas,
                                 streams_per_replica=streams_per_replica, backend=backend,
                                 **client_options)
        self._client = None
        self._info = None
        self._feeder = None
        self._epoch = int(epoch)
        # Where the next pass starts: None (the epoch's first batch) or (epoch, token,
        # batches already handed out) from load_state_dict().
        self._resume = None
        # After the last batch handed out: (epoch, token, batches, complete).
        self._position = None
        self._client_for(self._client_args)  # Refuses bad options now, not in the loop.

    def _client_for(self, args):
        if self._client is None:
            self._client = Client(**args)
        return self._client

    # Pickling (DataLoader workers, spawn): no client or CUDA state travels.
    def __getstate__(self):
        state = dict(self.__dict__)
        state["_client"] = None
        state["_feeder"] = None
        return state

    @property
    def client(self):
        return self._client_for(self._client_args)

    def rank_and_world_size(self):
        return _resolve_rank(self.rank_arg, self.world_size_arg)

    def info(self):
        """The pipeline's PipelineInfo (asked once)."""
        if self._info is None:
            self._info = self.client.pipeline_info(self.pipeline)
        return self._info

    @property
    def epoch(self):
        """The epoch the next pass streams."""
        return self._resume[0] if self._resume is not None else self._epoch

    def set_epoch(self, epoch):
        """The next pass streams `epoch` (from its start, unless a loaded state resumes that
        same epoch)."""
        epoch = int(epoch)
        if self._resume is not None and self._resume[0] != epoch:
            self._resume = None
        self._epoch = epoch

    def __len__(self):
        """Batches of one epoch for this rank (the same on every rank)."""
        rank, world_size = self.rank_and_world_size()
        del rank
        sub_streams = self.client.sub_streams
        batches = sub_streams * self.info().batches_per_shard(world_size * sub_streams)
        return min(batches, self.max_batches) if self.max_batches else batches

    def _identity(self):
        rank, world_size = self.rank_and_world_size()
        return {"pipeline": self.pipeline, "rank": rank, "world_size": world_size,
                "seed": self.seed, "sub_streams": self.client.sub_streams}

    def state_dict(self):
        """Where the stream stands after the last batch handed out (picklable; save it with
        the model's checkpoint, one per rank)."""
        state = {"format": _STATE_FORMAT, "version": _STATE_VERSION, **self._identity()}
        if self._position is not None:
            epoch, token, batches, complete = self._position
        elif self._resume is not None:
            (epoch, token, batches), complete = self._resume, False
        else:
            epoch, token, batches, complete = self._epoch, b"", 0, False
        state.update(epoch=epoch, resume_token=token, batches=batches, epoch_complete=complete,
                     next_epoch=self._epoch)
        return state

    def load_state_dict(self, state):
        """Continues after the batch the state was saved at (the next pass resumes there)."""
        if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
            raise ValueError("not a DataLoaderDataset state_dict")
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"DataLoaderDataset state version {state.get('version')} is not "
                             f"{_STATE_VERSION}")
        mine = self._identity()
        for key, what in (("pipeline", "pipeline"), ("world_size", "world size"),
                          ("rank", "rank"), ("seed", "seed"),
                          ("sub_streams", "number of sub-streams (replicas x "
                                          "streams_per_replica)")):
            if state.get(key) != mine[key]:
                raise ValueError(
                    f"the state was saved with {what} {state.get(key)!r}, this dataset has "
                    f"{mine[key]!r}: a saved position belongs to one shard of one pipeline's "
                    "stream and cannot continue another")
        self._position = None
        if state["epoch_complete"]:
            self._resume = None
            self._epoch = int(state["next_epoch"])
        else:
            self._resume = (int(state["epoch"]), bytes(state["resume_token"]),
                            int(state["batches"]))
            self._epoch = int(state["epoch"])

    def _check_workers(self):
        info = torch.utils.data.get_worker_info()
        if info is not None and info.num_workers > 1:
            raise RuntimeError(_WORKERS_ERROR.format(n=info.num_workers))
        if info is not None:
            _say_once("one-worker", "dataloader_client.torch: with num_workers=1 every batch "
                      "is copied once more, from the worker to this process; num_workers=0 "
                      "receives it here directly")

    def _convert(self, batch):
        tensors = {name: _as_torch(array, batch.dtypes[name])
                   for name, array in batch.tensors.items()}
        if self.device is not None:
            if self._feeder is None:
                self._feeder = _DeviceFeeder(self.device, self.ring_size, self.normalize,
                                             self.normalize_key)
            tensors = self._feeder(tensors)
        elif self.normalize is not None and self.normalize_key in tensors:
            tensors[self.normalize_key] = self.normalize(self.normalize_key,
                                                         tensors[self.normalize_key])
        tensors["sample_ids"] = torch.from_numpy(batch.sample_ids)
        return tensors

    def __iter__(self):
        self._check_workers()
        rank, world_size = self.rank_and_world_size()
        if self._resume is not None:
            epoch, token, done = self._resume
            self._resume = None
        else:
            epoch, token, done = self._epoch, b"", 0
        self._position = (epoch, token, done, False)
        remaining = 0
        if self.max_batches:
            remaining = self.max_batches - done
            if remaining <= 0:
                return self._finish(epoch, token, done)
        return self._generate(rank, world_size, epoch, token, done, remaining)

    def _finish(self, epoch, token, done):
        self._position = (epoch, token, done, True)
        if self.auto_next_epoch and self._epoch == epoch:
            self._epoch = epoch + 1
        return iter(())

    def _generate(self, rank, world_size, epoch, token, done, remaining):
        with self.client.stream(self.pipeline, shard_index=rank, shard_count=world_size,
                                epoch=epoch, seed=self.seed, resume_token=token,
                                max_batches=remaining, prefetch=self.prefetch) as stream:
            for batch in stream:
                out = self._convert(batch)
                done += 1
                token = batch.resume_token
                # Recorded before handing the batch out: state_dict() taken after this batch
                # was received resumes after it.
                self._position = (epoch, token, done, False)
                yield out
        self._finish(epoch, token, done)
