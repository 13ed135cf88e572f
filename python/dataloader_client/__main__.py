# Copyright 2026 The dataloader Authors.
"""python3 -m dataloader_client list|stream: the C++ dataloader_client tool in Python.

    python3 -m dataloader_client list --target=HOST:PORT
    python3 -m dataloader_client stream --target=HOST:PORT --pipeline=NAME [--shard_index=K
        --shard_count=N --epoch=E --seed=S --max_batches=B] [--replicas=...
        --streams_per_replica=K] [--verify] [--json]

The same flags, output and exit codes as the C++ tool: the summary (one line, or one JSON
object with --json) on stdout; errors, and a live progress line when stderr is a terminal,
on stderr. Exit code 0 on success, 1 if the stream or a call failed, 2 on bad flags, 3 if
--verify found a mismatch.
"""

import argparse
import json
import sys
import time

from . import _backends
from ._client import Client
from ._errors import DataLoaderError

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_MISMATCH = 3


def _fail(message, code):
    print(f"dataloader_client: {message}", file=sys.stderr)
    return code


def _parser():
    parser = argparse.ArgumentParser(
        prog="python3 -m dataloader_client",
        description="Lists a dataloader_server's pipelines or streams batches from it and "
        "reports throughput.")
    parser.add_argument("--backend", choices=("native", "python"), default=None,
                        help="The client implementation (default: native if built).")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub):
        sub.add_argument("--target", default="127.0.0.1:50051", help="The server, HOST:PORT.")
        sub.add_argument("--replicas", default="",
                         help="Scale-out: stream this rank's shard from several replicas at "
                         "once (HOST:PORT,HOST:PORT,... or dns:NAME:PORT). Overrides --target.")
        sub.add_argument("--tls", action="store_true",
                         help="Connect with TLS even to a loopback target.")
        sub.add_argument("--tls_ca_file", default="",
                         help="PEM CA certificate(s) the server's certificate must chain to.")
        sub.add_argument("--tls_cert_file", default="",
                         help="PEM certificate chain of this client (mutual TLS).")
        sub.add_argument("--tls_key_file", default="", help="PEM private key of --tls_cert_file.")
        sub.add_argument("--tls_server_name", default="",
                         help="The name the server's certificate must be valid for.")
        sub.add_argument("--auth_token_file", default="",
                         help="File holding the bearer token to send.")
        sub.add_argument("--allow_insecure", action="store_true",
                         help="Allow plaintext to a non-loopback target.")
        sub.add_argument("--max_retries", type=int, default=5,
                         help="Reconnect attempts in a row before giving up.")

    common(commands.add_parser("list", help="Print the server's pipelines."))
    stream = commands.add_parser("stream", help="Stream batches and report throughput.")
    common(stream)
    stream.add_argument("--pipeline", default="synthetic", help="The pipeline to stream.")
    stream.add_argument("--shard_index", type=int, default=0,
                        help="This reader's shard, 0 <= shard_index < shard_count.")
    stream.add_argument("--shard_count", type=int, default=1,
                        help="Shards the epoch is split into (0 reads as 1).")
    stream.add_argument("--epoch", type=int, default=0, help="The epoch to stream.")
    stream.add_argument("--seed", type=int, default=0, help="The seed of the epoch's order.")
    stream.add_argument("--max_batches", type=int, default=0,
                        help="Stop after this many batches (of the merged stream with "
                        "--replicas); 0: the whole shard.")
    stream.add_argument("--prefetch", type=int, default=4,
                        help="Batches buffered ahead of the consumer.")
    stream.add_argument("--streams_per_replica", type=int, default=1,
                        help="Sub-streams per replica (or per --target), each on its own "
                        "connection, merged in a deterministic order.")
    stream.add_argument("--json", action="store_true",
                        help="Print the summary as one JSON object instead of a line.")
    stream.add_argument("--verify", action="store_true",
                        help="Check that sequences run 0..n-1 and every tensor matches the "
                        "pipeline's TensorSpec; exit 3 on a mismatch.")
    return parser


def _client(args, streams_per_replica=1):
    kwargs = dict(tls=args.tls, tls_ca_file=args.tls_ca_file or None,
                  tls_cert_file=args.tls_cert_file or None,
                  tls_key_file=args.tls_key_file or None,
                  tls_server_name=args.tls_server_name or None,
                  auth_token_file=args.auth_token_file or None,
                  allow_insecure=args.allow_insecure, max_retries=args.max_retries,
                  streams_per_replica=streams_per_replica, backend=args.backend)
    if args.replicas:
        return Client(replicas=args.replicas, **kwargs)
    return Client(args.target, **kwargs)


def _list(client):
    try:
        pipelines = client.list_pipelines()
    except DataLoaderError as error:
        return _fail(f"ListPipelines on {client.targets[0]} failed: {error}", EXIT_FAILURE)
    for info in pipelines:
        print(info.name)
        if info.description:
            print(f"  description: {info.description}")
        flag = lambda value: "true" if value else "false"  # noqa: E731
        print(f"  samples_per_epoch: {info.samples_per_epoch}  batch_size: {info.batch_size}  "
              f"drop_last: {flag(info.drop_last)}  shuffle: {flag(info.shuffle)}  "
              f"exact_order: {flag(info.exact_order)}  max_batch_bytes: {info.max_batch_bytes}")
        for spec in info.tensors:
            print(f"  tensor {spec.name}: {spec.dtype.upper()} "
                  f"[{', '.join(str(d) for d in spec.shape)}]")
    return 0


def mismatch(batch, index, sub_streams, info):
    """Empty if `batch` (the stream's index-th) fits `info`; what differs otherwise. With S
    sub-streams the merged stream holds batch index // S of sub-stream index % S."""
    where = f"batch {index}: "
    if batch.sequence != index // sub_streams:
        return f"{where}sequence {batch.sequence}, expected {index // sub_streams}"
    if len(batch.sample_ids) == 0:
        return (f"{where}no samples (every sample of the batch failed, or the server sent an "
                "empty batch)")
    if len(batch.tensors) != len(info.tensors):
        return f"{where}{len(batch.tensors)} tensors, the pipeline lists {len(info.tensors)}"
    for (name, array), spec in zip(batch.tensors.items(), info.tensors):
        got = f"tensor '{name}' ({batch.dtypes[name].upper()} {list(array.shape)})"
        want = f"spec '{spec.name}' ({spec.dtype.upper()} {list(spec.shape)})"
        if (name != spec.name or batch.dtypes[name] != spec.dtype
                or array.ndim != len(spec.shape) or array.ndim == 0):
            return f"{where}{got} does not match {want}"
        if array.shape[0] != len(batch.sample_ids) or array.shape[0] > spec.shape[0]:
            return (f"{where}{got} has {array.shape[0]} rows for {len(batch.sample_ids)} "
                    f"samples ({want})")
        for d in range(1, array.ndim):
            if spec.shape[d] != -1 and array.shape[d] != spec.shape[d]:
                return f"{where}{got} does not match {want} in dimension {d}"
    return ""


def _stream(args):
    if args.streams_per_replica < 1:
        return _fail(f"--streams_per_replica must be >= 1, got {args.streams_per_replica}",
                     EXIT_USAGE)
    try:
        client = _client(args, args.streams_per_replica)
    except DataLoaderError as error:
        return _fail(str(error), EXIT_USAGE)
    info = None
    if args.verify:
        try:
            info = client.pipeline_info(args.pipeline)
        except DataLoaderError as error:
            return _fail(f"ListPipelines on {client.targets[0]} failed: {error}", EXIT_FAILURE)
    try:
        stream = client.stream(args.pipeline, shard_index=args.shard_index,
                               shard_count=args.shard_count, epoch=args.epoch, seed=args.seed,
                               max_batches=args.max_batches, prefetch=args.prefetch)
    except DataLoaderError as error:
        return _fail(str(error), EXIT_USAGE)

    progress = sys.stderr.isatty()
    start = time.monotonic()
    next_progress = start + 0.25
    batches = samples = nbytes = 0
    status = None
    found = ""
    with stream:
        while True:
            try:
                batch = stream.next()
            except DataLoaderError as error:
                status = error
                break
            if batch is None:
                break
            if info is not None:
                found = mismatch(batch, batches, stream.sub_streams, info)
                if found:
                    break
            batches += 1
            samples += len(batch.sample_ids)
            nbytes += sum(array.nbytes for array in batch.tensors.values())
            if progress and time.monotonic() >= next_progress:
                seconds = time.monotonic() - start
                print(f"\r{batches} batches  {samples / seconds:.0f} samples/s  "
                      f"{nbytes / 1e6 / seconds:.1f} MB/s   ", end="", file=sys.stderr,
                      flush=True)
                next_progress = time.monotonic() + 0.25
        seconds = time.monotonic() - start
        reconnects = stream.reconnects
    if progress:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    samples_per_second = samples / seconds if seconds > 0 else 0.0
    mb_per_second = nbytes / 1e6 / seconds if seconds > 0 else 0.0
    outcome = "OK" if status is None else str(status)
    if found:
        outcome = f"VERIFY_FAILED: {found}"
    verified = args.verify and status is None and not found
    if args.json:
        print(json.dumps({
            "pipeline": args.pipeline, "batches": batches, "samples": samples, "bytes": nbytes,
            "seconds": round(seconds, 6), "samples_per_second": round(samples_per_second, 1),
            "mb_per_second": round(mb_per_second, 3), "reconnects": reconnects,
            "verified": verified, "status": outcome, "backend": client.backend}))
    else:
        print(f"dataloader_client: {batches} batches, {samples} samples, {nbytes / 1e6:.1f} MB "
              f"in {seconds:.3f} s: {samples_per_second:.0f} samples/s, {mb_per_second:.1f} "
              f"MB/s, {reconnects} reconnects{', verified' if verified else ''} ({outcome})")
    sys.stdout.flush()
    if found:
        return _fail(f"verify failed: {found}", EXIT_MISMATCH)
    if status is not None:
        return _fail(f"stream failed: {status}", EXIT_FAILURE)
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)  # Bad flags: argparse exits 2.
    try:
        _backends.get(args.backend)
    except (ImportError, DataLoaderError) as error:
        return _fail(str(error), EXIT_USAGE)
    if args.command == "list":
        try:
            client = _client(args)
        except DataLoaderError as error:
            return _fail(str(error), EXIT_USAGE)
        return _list(client)
    return _stream(args)


if __name__ == "__main__":
    sys.exit(main())
