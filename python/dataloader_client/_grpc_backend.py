# Copyright 2026 The dataloader Authors.
"""The pure-Python backend, on grpcio: the same behaviour as the C++ client library
(client/batch_stream.h) in Python threads. Messages are received as raw bytes
(response_deserializer=None) and decoded by _wire straight into numpy.frombuffer views, so no
protobuf object and no copy of the payloads is made after grpcio hands the bytes over."""

import collections
import socket
import threading

import grpc

from . import _security, _wire
from ._errors import DataLoaderError, StatusCode

NAME = "python"

_STREAM_BATCHES = "/dataloader.v1.DataLoader/StreamBatches"
_LIST_PIPELINES = "/dataloader.v1.DataLoader/ListPipelines"
# The codes after which a stream is called again from its last token: a server that drains,
# restarts or cannot be reached, a broken connection (UNAVAILABLE), a server with every stream
# slot taken (RESOURCE_EXHAUSTED; the receive limit is unlimited, so never an oversized
# message). The .proto says to retry both, with backoff or on another replica.
_RETRYABLE = (StatusCode.UNAVAILABLE, StatusCode.RESOURCE_EXHAUSTED)


def _code(error):
    try:
        return StatusCode(error.code().value[0])
    except (AttributeError, ValueError):
        return StatusCode.UNKNOWN


def _channel(target, security, initial_backoff=0.1, max_backoff=5.0):
    """(channel, metadata) for `target`: its own connection, unlimited receive size."""
    tls, token, ca, cert, key = _security.load(security, target)
    millis = lambda seconds: max(1, min(int(seconds * 1000), 2**31 - 1))  # noqa: E731
    options = [
        ("grpc.max_receive_message_length", -1),
        # A channel of its own (a reconnect must not inherit a broken connection's backoff;
        # sub-streams must not share one HTTP/2 connection).
        ("grpc.use_local_subchannel_pool", 1),
        # Not grpc.min_reconnect_backoff_ms: gRPC takes it as the minimum time a connection
        # attempt is given too (default 20 s), which a short backoff would cut.
        ("grpc.initial_reconnect_backoff_ms", millis(initial_backoff)),
        ("grpc.max_reconnect_backoff_ms", millis(max_backoff)),
    ]
    if tls:
        if security.tls_server_name:
            options.append(("grpc.ssl_target_name_override", security.tls_server_name))
        credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key,
                                                   certificate_chain=cert)
        channel = grpc.secure_channel(target, credentials, options)
    else:
        channel = grpc.insecure_channel(target, options)
    # The token as plain metadata on every call: gRPC refuses call credentials on plaintext
    # channels, and plain metadata works over TLS too.
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    return channel, metadata


def validate(target, security):
    _security.load(security, target)


def resolve_replicas(spec):
    """As client/replica_stream.h's ResolveReplicas: a sorted list of HOST:PORT."""
    if spec.startswith("dns:"):
        rest = spec[4:]
        if rest.startswith("///"):
            rest = rest[3:]
        name, _, port = rest.rpartition(":")
        if not name or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise DataLoaderError(StatusCode.INVALID_ARGUMENT,
                                  f"replicas '{spec}': expected dns:NAME:PORT")
        try:
            found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise DataLoaderError(StatusCode.NOT_FOUND,
                                  f"cannot resolve replicas '{name}': {error.strerror}") from None
        addresses = set()
        for family, _, _, _, address in found:
            host = address[0]
            addresses.add(f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}")
        if not addresses:
            raise DataLoaderError(StatusCode.NOT_FOUND,
                                  f"replicas '{name}' resolve to no address")
        return sorted(addresses)
    replicas = []
    for part in spec.split(","):
        part = part.strip()
        if not part or ":" not in part:
            raise DataLoaderError(
                StatusCode.INVALID_ARGUMENT,
                f"replicas '{spec}': expected HOST:PORT,HOST:PORT,... or dns:NAME:PORT")
        replicas.append(part)
    replicas.sort()
    if len(set(replicas)) != len(replicas):
        raise DataLoaderError(StatusCode.INVALID_ARGUMENT, f"replicas '{spec}' lists one twice")
    return replicas


def list_pipelines(target, security, timeout):
    """Serialized ListPipelinesResponse."""
    channel, metadata = _channel(target, security)
    try:
        call = channel.unary_unary(_LIST_PIPELINES, request_serializer=None,
                                   response_deserializer=None)
        return call(b"", timeout=timeout, metadata=metadata)
    except grpc.RpcError as error:
        raise DataLoaderError(_code(error), error.details() or "") from None
    finally:
        channel.close()


class _Stream:
    """One StreamBatches stream with prefetch, resume and failover, read by a thread.
    next() from one thread; cancel() from any."""

    def __init__(self, target, failover_targets, security, request, options):
        for each in [target, *failover_targets]:
            _security.load(security, each)  # Refused here, as the C++ Open does.
        self._targets = [target, *failover_targets]
        self._security = security
        self._request = request
        self._options = options
        self._cv = threading.Condition()
        self._queue = collections.deque()
        self._final = None  # (code, message) once the reader has ended.
        self._cancelled = False
        self._call = None
        self.reconnects = 0
        # Touched by the reader thread only.
        self._last_token = request.resume_token
        self._expected_sequence = None
        self._received = 0
        self._thread = threading.Thread(target=self._run, name="dataloader-stream",
                                        daemon=True)
        self._thread.start()

    def next(self):
        with self._cv:
            self._cv.wait_for(
                lambda: self._cancelled or self._queue or self._final is not None)
            if self._cancelled:
                raise DataLoaderError(StatusCode.CANCELLED, "the batch stream was cancelled")
            if self._queue:
                parts = self._queue.popleft()
                self._cv.notify_all()
                return parts
            code, message = self._final
        if code == StatusCode.OK:
            return None
        raise DataLoaderError(code, message)

    def cancel(self):
        with self._cv:
            self._cancelled = True
            self._queue.clear()
            call = self._call
            self._cv.notify_all()
        if call is not None:
            call.cancel()

    def close(self):
        self.cancel()
        self._thread.join(timeout=30)

    def _run(self):
        options = self._options
        turn = 0
        failures = 0  # Retryable failures in a row without a batch received.
        final = (StatusCode.OK, "")
        channel, metadata = None, None
        try:
            channel, metadata = _channel(self._targets[0], self._security,
                                         options.initial_backoff, options.max_backoff)
            while True:
                received_any, code, message = self._read_once(channel, metadata)
                if received_any:
                    failures = 0
                with self._cv:
                    if self._cancelled:
                        return
                if code == StatusCode.OK:
                    break
                if code not in _RETRYABLE or failures >= options.max_retries:
                    if code in _RETRYABLE and options.max_retries > 0:
                        message = f"{message} (gave up after {failures} reconnect attempts)"
                    final = (code, message)
                    break
                delay = min(options.initial_backoff * 2**min(failures, 30), options.max_backoff)
                failures += 1
                with self._cv:
                    if self._cv.wait_for(lambda: self._cancelled, timeout=delay):
                        return
                # A fresh channel, to the next server in turn with failover targets.
                channel.close()
                turn = (turn + 1) % len(self._targets)
                channel, metadata = _channel(self._targets[turn], self._security,
                                             options.initial_backoff, options.max_backoff)
                with self._cv:
                    self.reconnects += 1
        except DataLoaderError as error:
            final = (error.code, error.message)
        except Exception as error:  # A bug here must reach the consumer, not hang it.
            final = (StatusCode.INTERNAL, f"the stream's reader failed: {error!r}")
        finally:
            if channel is not None:
                channel.close()
            with self._cv:
                if self._final is None:
                    self._final = final
                self._cv.notify_all()

    def _read_once(self, channel, metadata):
        """One StreamBatches call from the last token: (received_any, code, message)."""
        request = self._request
        max_batches = request.max_batches
        if max_batches:
            # max_batches bounds the whole stream the caller sees, not each call of it.
            if self._received >= max_batches:
                return False, StatusCode.OK, ""
            max_batches -= self._received
        message = _wire.encode_request(request.pipeline, request.shard_index,
                                       request.shard_count, request.epoch, request.seed,
                                       self._last_token, max_batches)
        call = channel.unary_stream(_STREAM_BATCHES, request_serializer=None,
                                    response_deserializer=None)(message, metadata=metadata)
        with self._cv:
            if self._cancelled:
                call.cancel()
                return False, StatusCode.CANCELLED, ""
            self._call = call
        received_any = False
        try:
            for raw in call:
                try:
                    parts = _wire.decode_batch(raw)
                except DataLoaderError as error:
                    call.cancel()
                    return (received_any, StatusCode.INTERNAL,
                            f"cannot parse received batch {self._received + 1} of this "
                            f"stream: {error.message}")
                sequence = parts[0]
                if self._expected_sequence is not None and sequence != self._expected_sequence:
                    # The server broke the resume contract: passing this batch on would
                    # silently skip or repeat data.
                    call.cancel()
                    return (received_any, StatusCode.INTERNAL,
                            f"expected the batch of sequence {self._expected_sequence} after "
                            f"resuming, got sequence {sequence}")
                received_any = True
                self._expected_sequence = sequence + 1
                self._last_token = parts[2]
                self._received += 1
                with self._cv:
                    # The prefetch bound: while it is full this thread stops reading and
                    # gRPC's flow control stops the server.
                    self._cv.wait_for(lambda: self._cancelled
                                      or len(self._queue) < self._options.prefetch)
                    if self._cancelled:
                        break
                    self._queue.append(parts)
                    self._cv.notify_all()
            return received_any, StatusCode.OK, ""
        except grpc.RpcError as error:
            return received_any, _code(error), error.details() or ""
        finally:
            with self._cv:
                self._call = None


def open_stream(target, failover_targets, security, request, options):
    return _Stream(target, failover_targets, security, request, options)
