# Copyright 2026 The dataloader Authors.
"""Client and Stream: the package's API over either backend."""

import collections
import threading

from . import _security, _wire
from ._errors import DataLoaderError, StatusCode, invalid_argument
from ._types import Batch, PipelineInfo

_Request = collections.namedtuple(
    "_Request", "pipeline shard_index shard_count epoch seed resume_token max_batches")
_StreamOptions = collections.namedtuple(
    "_StreamOptions", "prefetch max_retries initial_backoff max_backoff")

_UINT32 = (1 << 32) - 1
_UINT64 = (1 << 64) - 1


def _backend_module(name):
    from . import _backends
    return _backends.get(name)


def _check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_argument(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise invalid_argument(f"{name} must be in [{low}, {high}], got {value}")
    return value


class Client:
    """A client of dataloader servers: one server (`target`), or several replicas at once.

    Client(target, *, tls_ca_file=None, tls_cert_file=None, tls_key_file=None,
           tls_server_name=None, auth_token=None, failover_targets=())

    Args:
      target: the server, "HOST:PORT" (or any gRPC target: "dns:///name:port", "unix:/path").
      replicas: instead of `target`, scale-out over R replicas: a list of "HOST:PORT", a
        comma-separated string of them, or "dns:NAME:PORT" for every address NAME resolves
        to (a Kubernetes headless Service). Resolved once, here; sorted so every rank sees
        them in the same order. Every rank must see the same replicas.
      streams_per_replica: K sub-streams per replica (or per `target`), each on its own
        connection, for a trainer that needs more than one HTTP/2 connection carries.
        Sub-stream j of S = R*K reads shard k + j*n of n*S (rank k of n) from replica j % R,
        and the merged stream takes their batches round-robin over j: the C++ ReplicaStream's
        rule and order (client/replica_stream.h), deterministic and exactly resumable.
      tls, tls_ca_file, tls_cert_file, tls_key_file, tls_server_name, auth_token,
      auth_token_file, allow_insecure: transport security, as the C++ client's flags:
        plaintext to a loopback target unless TLS is asked for, TLS to any other unless
        allow_insecure; the token is sent as "authorization: Bearer <token>".
      failover_targets: other servers with the same pipelines; a stream that must reconnect
        tries them in turn (with `replicas`, each sub-stream fails over to the other replicas).
      max_retries: reconnect attempts in a row without a batch received before a retryable
        failure (UNAVAILABLE, RESOURCE_EXHAUSTED) is raised; 0 disables automatic resume.
      initial_backoff, max_backoff: seconds before the first reconnect attempt, doubling up to
        max_backoff.
      backend: "native" (the C++ client library) or "python" (grpcio); default
        dataloader_client.backend, the native one when the extension is built.

    Raises DataLoaderError(INVALID_ARGUMENT or FAILED_PRECONDITION) for unusable options,
    naming them; NOT_FOUND if a dns: name does not resolve.
    """

    def __init__(self, target=None, *, replicas=None, streams_per_replica=1, tls=False,
                 tls_ca_file=None, tls_cert_file=None, tls_key_file=None, tls_server_name=None,
                 auth_token=None, auth_token_file=None, allow_insecure=False,
                 failover_targets=(), max_retries=5, initial_backoff=0.1, max_backoff=5.0,
                 backend=None):
        self._backend = _backend_module(backend)
        if (target is None) == (replicas is None):
            raise invalid_argument("give exactly one of target and replicas")
        _check_int("streams_per_replica", streams_per_replica, 1, _UINT32)
        _check_int("max_retries", max_retries, 0, 2**31 - 1)
        if not initial_backoff > 0:
            raise invalid_argument(f"initial_backoff must be > 0, got {initial_backoff}")
        if not max_backoff >= initial_backoff:
            raise invalid_argument(
                f"max_backoff must be >= initial_backoff ({initial_backoff}), got {max_backoff}")
        if isinstance(failover_targets, str):
            failover_targets = [failover_targets]
        self._failover_targets = list(failover_targets)
        for i, each in enumerate(self._failover_targets):
            if not each:
                raise invalid_argument(f"failover_targets[{i}] is empty")
        if replicas is not None:
            if isinstance(replicas, str):
                replicas = self._backend.resolve_replicas(replicas)
            else:
                replicas = self._backend.resolve_replicas(",".join(replicas))
            if self._failover_targets:
                raise invalid_argument(
                    "failover_targets is for a single target: with replicas, each sub-stream "
                    "fails over to the other replicas")
        elif not target:
            raise invalid_argument("target must not be empty")
        self._target = target
        self._replicas = replicas
        self._streams_per_replica = streams_per_replica
        self._security = _security.Security(
            tls=bool(tls), tls_ca_file=tls_ca_file, tls_cert_file=tls_cert_file,
            tls_key_file=tls_key_file, tls_server_name=tls_server_name, auth_token=auth_token,
            auth_token_file=auth_token_file, allow_insecure=bool(allow_insecure))
        for each in self.targets + self._failover_targets:
            self._backend.validate(each, self._security)
        self._stream_options = (max_retries, float(initial_backoff), float(max_backoff))

    @property
    def backend(self):
        """"native" or "python": the backend this client uses."""
        return self._backend.NAME

    @property
    def targets(self):
        """The servers: [target], or the resolved replicas."""
        return [self._target] if self._replicas is None else list(self._replicas)

    @property
    def merged(self):
        """Whether streams are merged over sub-streams (replicas or streams_per_replica > 1);
        their resume tokens are then the client's own (see Stream)."""
        return self._replicas is not None or self._streams_per_replica > 1

    @property
    def sub_streams(self):
        """S: the sub-streams of each stream (1 for a single stream)."""
        return len(self.targets) * self._streams_per_replica

    def list_pipelines(self, timeout=10.0):
        """The server's pipelines (the first replica's), as PipelineInfo sorted by name."""
        data = self._backend.list_pipelines(self.targets[0], self._security, timeout)
        infos = [PipelineInfo.from_fields(f) for f in _wire.decode_list_pipelines(data)]
        return sorted(infos, key=lambda info: info.name)

    def pipeline_info(self, pipeline, timeout=10.0):
        """The PipelineInfo of `pipeline`; DataLoaderError(NOT_FOUND) if not served."""
        for info in self.list_pipelines(timeout):
            if info.name == pipeline:
                return info
        raise DataLoaderError(StatusCode.NOT_FOUND,
                              f"{self.targets[0]} does not list pipeline '{pipeline}'")

    def stream(self, pipeline, *, shard_index=0, shard_count=1, epoch=0, seed=0,
               resume_token=b"", max_batches=0, prefetch=4):
        """The batches of shard `shard_index` of `shard_count` of `epoch` (a Stream: iterator
        and context manager). From the first batch, or after the batch whose resume_token is
        given (with the same other arguments and scale-out settings). max_batches bounds the
        stream (0: to the end of the shard); prefetch batches are received ahead (per
        sub-stream). Errors of the request come from the iteration as DataLoaderError."""
        if not isinstance(pipeline, str) or not pipeline:
            raise invalid_argument("pipeline must be a non-empty string")
        _check_int("shard_index", shard_index, 0, _UINT32)
        _check_int("shard_count", shard_count, 0, _UINT32)
        _check_int("epoch", epoch, 0, _UINT64)
        _check_int("seed", seed, 0, _UINT64)
        _check_int("max_batches", max_batches, 0, _UINT64)
        _check_int("prefetch", prefetch, 1, 2**31 - 1)
        if not isinstance(resume_token, (bytes, bytearray, memoryview)):
            raise invalid_argument(f"resume_token must be bytes, got {type(resume_token)}")
        resume_token = bytes(resume_token)
        options = _StreamOptions(prefetch, *self._stream_options)
        if not self.merged:
            if _wire.is_merged_token(resume_token):
                raise invalid_argument(
                    "resume_token was saved from a merged stream (replicas or "
                    "streams_per_replica > 1): resume it with the same scale-out settings")
            request = _Request(pipeline, shard_index, shard_count, epoch, seed, resume_token,
                               max_batches)
            sub = self._backend.open_stream(self._target, self._failover_targets,
                                            self._security, request, options)
            return Stream([sub], [self._target], merged=False, initial_token=resume_token)
        return self._open_merged(pipeline, shard_index, shard_count, epoch, seed,
                                 resume_token, max_batches, options)

    def _open_merged(self, pipeline, shard_index, shard_count, epoch, seed, resume_token,
                     max_batches, options):
        replicas = self.targets
        r_count = len(replicas)
        s_count = r_count * self._streams_per_replica
        ranks = shard_count or 1
        if shard_index >= ranks:
            raise invalid_argument(f"shard_index must be < shard_count ({ranks}), got "
                                   f"{shard_index}")
        if ranks * s_count > _UINT32:
            raise invalid_argument(
                f"shard_count {ranks} x {r_count} replicas x {self._streams_per_replica} "
                "streams per replica: more sub-shards than the wire's 32-bit shard_count holds "
                f"(at most {_UINT32})")
        tokens, turn = [b""] * s_count, 0
        if resume_token:
            try:
                tokens, turn = _wire.decode_merged_token(resume_token)
            except ValueError as error:
                raise invalid_argument(
                    f"resume_token: {error}: a stream over replicas or with "
                    "streams_per_replica > 1 resumes from its own batches' tokens") from None
            if len(tokens) != s_count or turn >= s_count:
                raise invalid_argument(
                    f"resume_token was saved from a stream of {len(tokens)} sub-streams; this "
                    f"one has {s_count} ({r_count} replicas x {self._streams_per_replica}): "
                    "resume with the same replicas and streams_per_replica")
        subs, names = [], []
        try:
            for j in range(s_count):
                r = j % r_count
                request = _Request(pipeline, shard_index + j * ranks, ranks * s_count, epoch,
                                   seed, tokens[j], 0)
                if max_batches:
                    # The merged stream's next max_batches batches are the turns turn,
                    # turn + 1, ... (mod S): this sub-stream's share of them.
                    offset = (j - turn) % s_count
                    share = max_batches // s_count + (1 if offset < max_batches % s_count else 0)
                    request = request._replace(max_batches=share)
                names.append(f"sub-shard {request.shard_index}/{request.shard_count} on "
                             f"{replicas[r]}")
                if max_batches and request.max_batches == 0:
                    subs.append(None)
                    continue
                failover = [replicas[(r + o) % r_count] for o in range(1, r_count)]
                subs.append(self._backend.open_stream(replicas[r], failover, self._security,
                                                      request, options))
        except BaseException:
            for sub in subs:
                if sub is not None:
                    sub.close()
            raise
        return Stream(subs, names, merged=True, tokens=tokens, turn=turn)


class Stream:
    """The batches of one stream, in order: an iterator (of Batch) and a context manager.

        with client.stream("train", shard_index=rank, shard_count=world) as stream:
            for batch in stream:
                ...

    Iteration ends at the clean end of the stream (the shard's epoch, or max_batches); a
    failure raises DataLoaderError (after the batches received before it). Connection losses,
    server restarts and drains (UNAVAILABLE) and full servers (RESOURCE_EXHAUSTED) are
    retried from the last batch's token, with backoff and failover, without gaps or repeats.

    A merged stream (replicas or streams_per_replica > 1) takes its sub-streams' batches
    round-robin; a batch's resume_token then holds every sub-stream's token and the merge
    position (the client's own format), so resuming from it continues the merged order
    exactly.

    cancel() (any thread) cancels the calls promptly (the server frees the streams); the
    iteration then raises DataLoaderError(CANCELLED). Leaving the `with` block, close() or
    garbage collection cancel too.
    """

    def __init__(self, subs, names, merged, tokens=None, turn=0, initial_token=b""):
        self._subs = subs
        self._names = names
        self._merged = merged
        self._done = [sub is None for sub in subs]
        self._tokens = list(tokens) if tokens is not None else None
        self._turn = turn
        self._lock = threading.Lock()
        self._closed = False
        # The token of the last batch handed out (before the first: where the stream starts).
        self.resume_token = (_wire.encode_merged_token(tokens, turn) if merged
                             else initial_token)

    def __iter__(self):
        return self

    def __next__(self):
        if not self._merged:
            parts = self._subs[0].next()
            if parts is None:
                raise StopIteration
            batch = Batch.from_parts(parts)
            self.resume_token = batch.resume_token
            return batch
        count = len(self._subs)
        for _ in range(count):
            j = self._turn
            self._turn = (j + 1) % count
            if self._done[j]:
                continue
            try:
                parts = self._subs[j].next()
            except DataLoaderError as error:
                self._turn = j  # The failed sub-stream's batch comes next.
                raise DataLoaderError(error.code, f"{self._names[j]}: {error.message}") from None
            if parts is None:
                self._done[j] = True
                continue
            batch = Batch.from_parts(parts)
            self._tokens[j] = batch.resume_token
            batch.resume_token = _wire.encode_merged_token(self._tokens, self._turn)
            self.resume_token = batch.resume_token
            return batch
        raise StopIteration

    def next(self):
        """The next Batch, or None at the clean end."""
        try:
            return self.__next__()
        except StopIteration:
            return None

    @property
    def reconnects(self):
        """Times the stream (all its sub-streams) called the server again after a retryable
        failure, including failovers."""
        return sum(sub.reconnects for sub in self._subs if sub is not None)

    @property
    def sub_streams(self):
        return len(self._subs)

    def cancel(self):
        for sub in self._subs:
            if sub is not None:
                sub.cancel()

    def close(self):
        """Cancels and releases the stream's threads and connections. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sub in self._subs:
            if sub is not None:
                sub.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 (interpreter shutdown)
            pass
