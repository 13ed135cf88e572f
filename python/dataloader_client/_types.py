# Copyright 2026 The dataloader Authors.
"""What the client hands out: Batch, PipelineInfo, TensorSpec."""

import dataclasses

from . import _wire


class Batch:
    """One batch of one shard of one epoch (data_loader.proto's Batch).

    Attributes:
      sequence: 0-based position of the batch in its stream (for a merged stream over several
        replicas or sub-streams: the position in its sub-stream; see Stream).
      epoch: the epoch the batch belongs to.
      tensors: dict name -> numpy array, rows = samples, over the received bytes (no copy):
        the native backend's arrays are writable and keep the received batch alive; the
        pure-Python backend's are read-only views of the received message. bfloat16 tensors
        come as uint16 arrays of their raw bits (numpy has no bfloat16; see `dtypes`).
      dtypes: dict name -> the wire dtype's name ("uint8", "float32", "bfloat16", ...).
      sample_ids: int64 numpy array, the dataset index of each row.
      resume_token: bytes; Client.stream(..., resume_token=it) continues after this batch
        (with the same pipeline, shard, epoch, seed and scale-out settings).
    """

    __slots__ = ("sequence", "epoch", "tensors", "dtypes", "sample_ids", "resume_token")

    def __init__(self, sequence, epoch, tensors, dtypes, sample_ids, resume_token):
        self.sequence = sequence
        self.epoch = epoch
        self.tensors = tensors
        self.dtypes = dtypes
        self.sample_ids = sample_ids
        self.resume_token = resume_token

    @classmethod
    def from_parts(cls, parts):
        """From (sequence, epoch, resume_token, sample_ids, [(name, dtype, array)])."""
        sequence, epoch, token, sample_ids, tensors = parts
        return cls(sequence, epoch, {name: array for name, _, array in tensors},
                   {name: _wire.DTYPE_NAMES.get(dtype, f"DType({dtype})")
                    for name, dtype, _ in tensors},
                   sample_ids, token)

    def __repr__(self):
        shapes = ", ".join(f"{name}: {self.dtypes[name]}{list(array.shape)}"
                           for name, array in self.tensors.items())
        return (f"Batch(sequence={self.sequence}, epoch={self.epoch}, "
                f"samples={len(self.sample_ids)}, tensors={{{shapes}}})")


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """A tensor every batch of a pipeline carries: name, dtype name, shape of a full batch
    (first dimension = batch_size; a -1 elsewhere varies)."""

    name: str
    dtype: str
    shape: tuple


_REMAINDER_POLICIES = {0: "unspecified", 1: "drop"}


@dataclasses.dataclass(frozen=True)
class PipelineInfo:
    """What ListPipelines says about a pipeline (see data_loader.proto's PipelineInfo)."""

    name: str
    description: str
    samples_per_epoch: int
    batch_size: int
    tensors: tuple
    drop_last: bool
    shuffle: bool
    exact_order: bool
    remainder_policy: str
    max_batch_bytes: int

    @classmethod
    def from_fields(cls, fields):
        fields = dict(fields)
        fields["tensors"] = tuple(
            TensorSpec(t["name"], _wire.DTYPE_NAMES.get(t["dtype"], f"DType({t['dtype']})"),
                       tuple(t["shape"])) for t in fields["tensors"])
        policy = fields["remainder_policy"]
        fields["remainder_policy"] = _REMAINDER_POLICIES.get(policy,
                                                             f"RemainderPolicy({policy})")
        return cls(**fields)

    def batches_per_shard(self, shard_count=1):
        """Batches of each shard of an epoch split `shard_count` ways (the same for every
        shard: the service's step parity)."""
        samples = self.samples_per_epoch // max(shard_count, 1)
        if self.drop_last:
            return samples // self.batch_size
        return -(-samples // self.batch_size)
