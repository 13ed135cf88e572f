# Copyright 2026 The dataloader Authors.
"""The native backend: the C++ client library through the _native extension. Receiving,
parsing, reconnecting and prefetching happen on C++ threads without the GIL; batches arrive
as numpy arrays over the received bytes."""

from . import _native

NAME = "native"


def validate(target, security):
    _native.validate_security(target, security.as_dict())


def resolve_replicas(spec):
    return list(_native.resolve_replicas(spec))


def list_pipelines(target, security, timeout):
    """Serialized ListPipelinesResponse."""
    return _native.list_pipelines(target, security.as_dict(), float(timeout))


def open_stream(target, failover_targets, security, request, options):
    """A sub-stream: next() -> parts tuple or None, cancel(), close(), reconnects."""
    return _native.BatchStream(
        target, list(failover_targets), security.as_dict(), request.pipeline,
        request.shard_index, request.shard_count, request.epoch, request.seed,
        request.resume_token, request.max_batches, options.prefetch, options.max_retries,
        float(options.initial_backoff), float(options.max_backoff))
