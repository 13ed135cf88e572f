# Copyright 2026 The dataloader Authors.
"""dataloader_client (both backends) against real dataloader_server processes."""

import os
import threading
import time

import numpy as np
import pytest

import dataloader_client as dl
from dataloader_client import DataLoaderError, StatusCode, _wire
from conftest import BACKENDS, REPO, free_port

SMALL_SAMPLES = 103
SMALL_BATCH = 8


def read_all(stream):
    with stream:
        return list(stream)


def ids_of(batches):
    return [int(i) for batch in batches for i in batch.sample_ids]


def test_backend_is_reported():
    assert dl.backend in ("native", "python")
    assert dl.Client("127.0.0.1:1").backend == dl.backend


def test_list_pipelines_describes_the_servers_pipelines(server, backend):
    infos = {info.name: info for info in dl.Client(server.target, backend=backend)
             .list_pipelines()}
    small = infos["small"]
    assert small.samples_per_epoch == SMALL_SAMPLES and small.batch_size == SMALL_BATCH
    assert small.shuffle and small.exact_order and not small.drop_last
    assert small.remainder_policy == "drop"
    assert [(t.name, t.dtype, t.shape) for t in small.tensors] == [
        ("image", "uint8", (8, 4, 5, 3)), ("label", "int64", (8,))]
    assert small.batches_per_shard(1) == 13 and small.batches_per_shard(4) == 4
    assert infos["floats"].tensors[0] == dl.TensorSpec("image", "float32", (6, 3, 3, 3))


def test_full_epoch_has_every_sample_once_with_its_tensors(server, backend):
    client = dl.Client(server.target, backend=backend)
    batches = read_all(client.stream("small", epoch=2, seed=3))
    assert [b.sequence for b in batches] == list(range(13))
    assert all(b.epoch == 2 for b in batches)
    assert sorted(ids_of(batches)) == list(range(SMALL_SAMPLES))
    for batch in batches:
        rows = len(batch.sample_ids)
        assert rows == (SMALL_BATCH if batch.sequence < 12 else 7)
        image, label = batch.tensors["image"], batch.tensors["label"]
        assert image.dtype == np.uint8 and image.shape == (rows, 4, 5, 3)
        assert label.dtype == np.int64 and label.shape == (rows,)
        assert batch.dtypes == {"image": "uint8", "label": "int64"}
        np.testing.assert_array_equal(label, batch.sample_ids % 7)
        assert batch.sample_ids.dtype == np.int64
        assert batch.resume_token
    # A shuffled order: not the dataset's.
    assert ids_of(batches) != list(range(SMALL_SAMPLES))


def test_shards_together_cover_the_epoch_once_with_equal_lengths(server, backend):
    client = dl.Client(server.target, backend=backend)
    shards = [read_all(client.stream("small", shard_index=k, shard_count=4, epoch=1))
              for k in range(4)]
    assert [len(s) for s in shards] == [4, 4, 4, 4]  # floor(103 / 4) = 25 samples each.
    ids = [i for shard in shards for i in ids_of(shard)]
    assert len(ids) == 100 and len(set(ids)) == 100


def test_same_request_same_bytes(server, backend):
    client = dl.Client(server.target, backend=backend)
    first = read_all(client.stream("floats", epoch=4, seed=9))
    second = read_all(client.stream("floats", epoch=4, seed=9))
    other_epoch = read_all(client.stream("floats", epoch=5, seed=9))
    assert len(first) == len(second) == 7
    for a, b in zip(first, second):
        assert a.resume_token == b.resume_token
        np.testing.assert_array_equal(a.sample_ids, b.sample_ids)
        for name in a.tensors:
            assert a.tensors[name].tobytes() == b.tensors[name].tobytes()
    assert ids_of(first) != ids_of(other_epoch)


@pytest.mark.skipif(BACKENDS != ["native", "python"], reason="the native extension is not built")
def test_native_and_fallback_give_the_same_batches(server):
    for pipeline in ("small", "floats"):
        native = read_all(dl.Client(server.target, backend="native").stream(pipeline, seed=1))
        python = read_all(dl.Client(server.target, backend="python").stream(pipeline, seed=1))
        assert len(native) == len(python) > 0
        for a, b in zip(native, python):
            assert (a.sequence, a.epoch, a.resume_token) == (b.sequence, b.epoch, b.resume_token)
            np.testing.assert_array_equal(a.sample_ids, b.sample_ids)
            assert a.dtypes == b.dtypes and list(a.tensors) == list(b.tensors)
            for name in a.tensors:
                assert a.tensors[name].dtype == b.tensors[name].dtype
                assert a.tensors[name].shape == b.tensors[name].shape
                assert a.tensors[name].tobytes() == b.tensors[name].tobytes()


def raw_messages(target, pipeline, count):
    """The first `count` serialized Batch messages of a stream, as bytes (grpcio)."""
    import grpc
    with grpc.insecure_channel(target, [("grpc.max_receive_message_length", -1)]) as channel:
        call = channel.unary_stream("/dataloader.v1.DataLoader/StreamBatches",
                                    request_serializer=None, response_deserializer=None)
        request = _wire.encode_request(pipeline, 0, 1, 0, 0, b"", count)
        return list(call(request))


@pytest.mark.skipif(BACKENDS != ["native", "python"], reason="the native extension is not built")
def test_native_and_fallback_decode_the_same_bytes(server):
    from dataloader_client import _native
    rng = np.random.default_rng(5)
    for pipeline in ("small", "floats", "big"):
        for message in raw_messages(server.target, pipeline, 3):
            expected = _wire.decode_batch(message)
            # Whole, and cut into slices at random places, as gRPC may deliver it.
            for cuts in ([], sorted(rng.integers(0, len(message), 5).tolist()),
                         list(range(1, min(len(message), 40)))):
                (parts, copied) = _native.parse_batch(message, cuts)
                assert parts[:3] == expected[:3]
                np.testing.assert_array_equal(parts[3], expected[3])
                assert [(n, d) for n, d, _ in parts[4]] == [(n, d) for n, d, _ in expected[4]]
                for (_, _, a), (_, _, b) in zip(parts[4], expected[4]):
                    assert a.dtype == b.dtype and a.shape == b.shape
                    assert a.tobytes() == b.tobytes()
                if not cuts:
                    # One slice: byte payloads are always views; wider elements are copied
                    # only when misaligned for their type.
                    assert copied <= sum(a.nbytes for _, _, a in parts[4] if a.itemsize > 1)
    # What one refuses, the other refuses.
    message = raw_messages(server.target, "small", 1)[0]
    for broken in (message[:-3], message[:5] + b"\xff" * 12 + message[17:]):
        with pytest.raises(DataLoaderError):
            _wire.decode_batch(broken)
        with pytest.raises(DataLoaderError):
            _native.parse_batch(broken, [])


def test_native_arrays_keep_their_batch_alive(server):
    if dl.backend != "native":
        pytest.skip("the native extension is not built")
    stream = dl.Client(server.target).stream("big", max_batches=2)
    images = [batch.tensors["image"] for batch in read_all(stream)]
    del stream
    import gc
    gc.collect()
    assert images[0].flags.writeable and images[0].base is not None
    assert memoryview(images[0].base).nbytes == images[0].nbytes
    # Still the received bytes: the same as a fresh read of the same batches.
    again = [b.tensors["image"] for b in read_all(dl.Client(server.target).stream("big",
                                                                                  max_batches=2))]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(images, again))


def encode_batch(sequence, tensors, sample_ids, token=b"t"):
    """A serialized Batch (tensors: [(name, dtype code, shape, data bytes)])."""
    def varint(value):
        out = bytearray()
        _wire._put_varint(out, value)
        return bytes(out)

    def field(number, payload):
        return varint(number << 3 | 2) + varint(len(payload)) + payload
    out = varint(1 << 3) + varint(sequence)
    for name, dtype, shape, data in tensors:
        body = (field(1, name.encode()) + varint(2 << 3) + varint(dtype)
                + field(3, b"".join(varint(d) for d in shape)) + field(4, data))
        out += field(3, body)
    out += field(4, b"".join(varint(i & (2**64 - 1)) for i in sample_ids)) + field(5, token)
    return out


def test_decoders_read_every_dtype_alike():
    rng = np.random.default_rng(3)
    tensors = []
    for code, (name, dtype) in _wire.DTYPES.items():
        data = rng.integers(0, 256, size=2 * 3 * dtype.itemsize, dtype=np.uint8).tobytes()
        if name == "bool":
            data = bytes(b & 1 for b in data)
        tensors.append((name, code, (2, 3), data))
    message = encode_batch(4, tensors, [-1, 2**40])
    parts = _wire.decode_batch(message)
    assert parts[0] == 4 and parts[2] == b"t"
    assert parts[3].tolist() == [-1, 2**40]
    for (name, code, shape, data), (got_name, got_code, array) in zip(tensors, parts[4]):
        assert (got_name, got_code, array.shape) == (name, code, shape)
        assert array.dtype == _wire.DTYPES[code][1] and array.tobytes() == data
    if dl.backend == "native":
        from dataloader_client import _native
        native, _ = _native.parse_batch(message, [7, 30, 31])
        assert native[:3] == parts[:3] and native[3].tolist() == parts[3].tolist()
        for (n1, c1, a1), (n2, c2, a2) in zip(native[4], parts[4]):
            assert (n1, c1, a1.dtype, a1.shape) == (n2, c2, a2.dtype, a2.shape)
            assert a1.tobytes() == a2.tobytes()
    # A tensor whose data does not fit its shape, an unknown dtype: refused, named.
    for bad in (encode_batch(0, [("image", 8, (2, 3), b"\0" * 20)], [0]),
                encode_batch(0, [("image", 42, (1,), b"\0")], [0])):
        with pytest.raises(DataLoaderError) as error:
            _wire.decode_batch(bad)
        assert "tensor 'image'" in error.value.message


def test_max_batches_and_resume_token_continue_the_stream(server, backend):
    client = dl.Client(server.target, backend=backend)
    whole = read_all(client.stream("small", seed=7))
    head = client.stream("small", seed=7, max_batches=5)
    first = read_all(head)
    assert len(first) == 5 and head.resume_token == first[-1].resume_token
    rest = read_all(client.stream("small", seed=7, resume_token=first[-1].resume_token))
    assert ids_of(first + rest) == ids_of(whole)
    assert [b.sequence for b in rest] == list(range(5, 13))


def test_resume_after_the_server_is_killed(make_server, backend):
    port = free_port()
    reference = read_all(dl.Client(make_server().target).stream("big", seed=2))
    server = make_server(port)
    client = dl.Client(server.target, backend=backend, max_retries=50, initial_backoff=0.05,
                       max_backoff=0.2)
    got = []
    restarted = []
    with client.stream("big", seed=2, prefetch=1) as stream:
        for batch in stream:
            got.append((batch.sequence, batch.sample_ids.tolist(),
                        batch.tensors["image"].tobytes()))
            if len(got) == 3:
                server.kill()  # A crash mid-epoch: no drain, the connection just breaks.

                def restart():
                    time.sleep(0.5)
                    server.start(port)
                    restarted.append(True)
                threading.Thread(target=restart).start()
        reconnects = stream.reconnects
    assert restarted and reconnects >= 1
    assert [g[0] for g in got] == list(range(len(reference)))
    assert [g[1] for g in got] == [b.sample_ids.tolist() for b in reference]
    assert all(g[2] == b.tensors["image"].tobytes() for g, b in zip(got, reference))


def test_cancel_frees_the_server_stream_promptly(make_server, backend):
    server = make_server(flags=["--metrics_address=127.0.0.1:0", "--max_streams=1"])
    client = dl.Client(server.target, backend=backend, max_retries=0)
    stream = client.stream("big", prefetch=1)
    assert stream.next() is not None
    assert server.metric("dataloader_streams_active") == 1
    stream.cancel()
    with pytest.raises(DataLoaderError) as cancelled:
        stream.next()
    assert cancelled.value.code == StatusCode.CANCELLED
    deadline = time.monotonic() + 10
    while server.metric("dataloader_streams_active") != 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.metric("dataloader_streams_active") == 0
    # The slot is free: a new stream is served (max_retries=0: a refusal would raise).
    assert len(read_all(client.stream("small", max_batches=2))) == 2
    stream.close()
    assert "CANCELLED" in server.log()


def test_leaving_the_with_block_or_breaking_cancels(make_server, backend):
    server = make_server(flags=["--metrics_address=127.0.0.1:0"])
    client = dl.Client(server.target, backend=backend)
    with client.stream("big", prefetch=1) as stream:
        for _ in stream:
            break
    deadline = time.monotonic() + 10
    while server.metric("dataloader_streams_active") != 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.metric("dataloader_streams_active") == 0


@pytest.mark.parametrize("how", ["cancel", "close"])
def test_cancel_from_another_thread_wakes_a_blocked_reader(server, backend, how):
    stream = dl.Client(server.target, backend=backend).stream("slow")
    stream.next()
    timer = threading.Timer(0.2, getattr(stream, how))
    timer.start()
    with pytest.raises(DataLoaderError) as error:
        for _ in stream:
            pass
    assert error.value.code == StatusCode.CANCELLED
    stream.close()


def test_bad_requests_raise_dataloader_error_with_the_code(server, backend):
    client = dl.Client(server.target, backend=backend)

    def code_of(**kwargs):
        with pytest.raises(DataLoaderError) as error:
            read_all(client.stream(**kwargs))
        return error.value

    unknown = code_of(pipeline="nope")
    assert unknown.code == StatusCode.NOT_FOUND and "nope" in unknown.message
    shard = code_of(pipeline="small", shard_index=4, shard_count=4)
    assert shard.code == StatusCode.INVALID_ARGUMENT and "shard_index" in shard.message
    token = read_all(client.stream("small", max_batches=1))[0].resume_token
    other = code_of(pipeline="small", epoch=1, resume_token=token)
    assert other.code == StatusCode.INVALID_ARGUMENT
    garbage = code_of(pipeline="small", resume_token=b"\x0anot a token")
    assert garbage.code == StatusCode.INVALID_ARGUMENT
    # Refused by the client before any call, with the same type.
    for kwargs, words in ((dict(pipeline="small", prefetch=0), "prefetch"),
                          (dict(pipeline="small", shard_index=-1), "shard_index"),
                          (dict(pipeline="small", epoch=2**64), "epoch"),
                          (dict(pipeline=""), "pipeline"),
                          (dict(pipeline="small", resume_token=_wire.encode_merged_token(
                              [b"", b""], 0)), "merged")):
        assert code_of(**kwargs).code == StatusCode.INVALID_ARGUMENT
        assert words in code_of(**kwargs).message
    with pytest.raises(DataLoaderError) as error:
        dl.Client(server.target, backend=backend, tls_ca_file="/nonexistent/ca.pem")
    assert error.value.code == StatusCode.FAILED_PRECONDITION and "tls_ca_file" in str(error.value)
    with pytest.raises(DataLoaderError) as error:
        dl.Client("10.1.2.3:50051", backend=backend, auth_token="a", auth_token_file="b")
    assert error.value.code == StatusCode.INVALID_ARGUMENT


def test_unreachable_server_is_unavailable_after_the_retries(backend):
    client = dl.Client(f"127.0.0.1:{free_port()}", backend=backend, max_retries=2,
                       initial_backoff=0.01, max_backoff=0.02)
    stream = client.stream("small")
    with pytest.raises(DataLoaderError) as error:
        read_all(stream)
    assert error.value.code == StatusCode.UNAVAILABLE
    assert "gave up after 2 reconnect attempts" in error.value.message
    assert stream.reconnects == 2


def test_resource_exhausted_is_retried_until_a_slot_frees(make_server, backend):
    server = make_server(flags=["--max_streams=1"])
    holder = dl.Client(server.target).stream("big", prefetch=1)
    assert holder.next() is not None
    client = dl.Client(server.target, backend=backend, max_retries=1000, initial_backoff=0.01,
                       max_backoff=0.05)
    waiter = client.stream("small", max_batches=3)
    deadline = time.monotonic() + 10
    while waiter.reconnects < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert waiter.reconnects >= 3  # Refused (RESOURCE_EXHAUSTED) and retried.
    holder.close()
    assert [b.sequence for b in read_all(waiter)] == [0, 1, 2]
    # Bounded: with the slot held, a stream gives up after its retries.
    holder = dl.Client(server.target).stream("big", prefetch=1)
    assert holder.next() is not None
    refused = dl.Client(server.target, backend=backend, max_retries=2, initial_backoff=0.01,
                        max_backoff=0.02).stream("small")
    with pytest.raises(DataLoaderError) as error:
        read_all(refused)
    assert error.value.code == StatusCode.RESOURCE_EXHAUSTED
    assert "gave up after 2 reconnect attempts" in error.value.message
    holder.close()


def test_failover_to_another_target(make_server, backend):
    down = f"127.0.0.1:{free_port()}"
    up = make_server()
    client = dl.Client(down, backend=backend, failover_targets=[up.target],
                       initial_backoff=0.01, max_backoff=0.02)
    stream = client.stream("small", max_batches=4)
    assert len(read_all(stream)) == 4 and stream.reconnects >= 1


@pytest.fixture
def replicas(make_server):
    return [make_server() for _ in range(3)]


def sub_shard(target, index, count, epoch=1, seed=5):
    return read_all(dl.Client(target).stream("slow", shard_index=index, shard_count=count,
                                             epoch=epoch, seed=seed))


def test_replicas_with_k_streams_follow_the_rule_and_cover_the_epoch(replicas, backend):
    targets = [r.target for r in replicas]
    results = {}

    def read_rank(rank):
        client = dl.Client(replicas=targets, streams_per_replica=2, backend=backend)
        assert client.sub_streams == 6
        results[rank] = read_all(client.stream("slow", shard_index=rank, shard_count=2,
                                               epoch=1, seed=5))
    threads = [threading.Thread(target=read_rank, args=(rank,)) for rank in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 600 samples, 2 ranks x 3 replicas x 2 streams = 12 sub-shards of 50 = 5 batches each.
    assert len(results[0]) == len(results[1]) == 30
    ids = ids_of(results[0]) + ids_of(results[1])
    assert sorted(ids) == list(range(600))
    # Batch i of rank 0 is batch i // 6 of sub-stream i % 6 = shard 0 + (i % 6) * 2 of 12.
    subs = [sub_shard(targets[0], j * 2, 12) for j in range(6)]
    expected = [subs[i % 6][i // 6] for i in range(30)]
    assert [b.sample_ids.tolist() for b in results[0]] == [b.sample_ids.tolist() for b in expected]
    assert [b.sequence for b in results[0]] == [i // 6 for i in range(30)]
    # The order does not depend on how the replicas are listed.
    again = read_all(dl.Client(replicas=",".join(reversed(targets)), streams_per_replica=2,
                               backend=backend).stream("slow", shard_index=0, shard_count=2,
                                                       epoch=1, seed=5))
    assert ids_of(again) == ids_of(results[0])


def test_merged_stream_resumes_exactly_from_a_batch_token(replicas, backend):
    targets = [r.target for r in replicas[:2]]
    client = dl.Client(replicas=targets, streams_per_replica=2, backend=backend)
    request = dict(shard_index=1, shard_count=2, epoch=3)
    whole = read_all(client.stream("slow", **request))
    # 2 ranks x 2 replicas x 2 streams = 8 sub-shards of 75 samples: 8 batches each, 4 merged.
    assert len(whole) == 32
    head = read_all(client.stream("slow", max_batches=7, **request))
    assert len(head) == 7
    middle = read_all(dl.Client(replicas=targets, streams_per_replica=2, backend=backend)
                      .stream("slow", resume_token=head[-1].resume_token, max_batches=10,
                              **request))
    assert len(middle) == 10
    rest = read_all(client.stream("slow", resume_token=middle[-1].resume_token, **request))
    assert ids_of(head + middle + rest) == ids_of(whole)
    # A position saved with another scale-out cannot continue this one.
    with pytest.raises(DataLoaderError) as error:
        read_all(dl.Client(replicas=targets, backend=backend)
                 .stream("slow", resume_token=head[-1].resume_token, **request))
    assert error.value.code == StatusCode.INVALID_ARGUMENT
    assert "4 sub-streams" in error.value.message
    with pytest.raises(DataLoaderError) as error:
        read_all(client.stream("slow", resume_token=whole[0].resume_token[5:], **request))
    assert error.value.code == StatusCode.INVALID_ARGUMENT


def test_replica_shard_count_overflow_is_refused(backend):
    client = dl.Client(replicas=["127.0.0.1:1", "127.0.0.1:2"], backend=backend)
    with pytest.raises(DataLoaderError) as error:
        client.stream("small", shard_count=2**31)
    assert error.value.code == StatusCode.INVALID_ARGUMENT
    assert "32-bit shard_count" in error.value.message


def test_resolve_replicas_lists_and_dns_names(backend):
    assert dl.resolve_replicas("b:2, a:1", backend=backend) == ["a:1", "b:2"]
    assert "127.0.0.1:1234" in dl.resolve_replicas("dns:localhost:1234", backend=backend)
    for spec, code in (("dns:localhost", StatusCode.INVALID_ARGUMENT),
                       ("a:1,a:1", StatusCode.INVALID_ARGUMENT),
                       ("dns:no-such-host.invalid:1", StatusCode.NOT_FOUND)):
        with pytest.raises(DataLoaderError) as error:
            dl.resolve_replicas(spec, backend=backend)
        assert error.value.code == code


TLS = os.path.join(REPO, "tests", "data", "tls")


def test_tls_mutual_tls_and_bearer_tokens(make_server, tmp_path, backend):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    server = make_server(flags=[f"--tls_cert_file={TLS}/server.pem",
                                f"--tls_key_file={TLS}/server.key",
                                f"--tls_client_ca_file={TLS}/ca.pem",
                                f"--auth_token_file={token}"])
    secure = dict(tls_ca_file=f"{TLS}/ca.pem", tls_cert_file=f"{TLS}/client.pem",
                  tls_key_file=f"{TLS}/client.key", backend=backend, max_retries=0)
    ok = dl.Client(server.target, auth_token="s3cret", **secure)
    assert [p.name for p in ok.list_pipelines()][0] == "big"
    assert len(read_all(ok.stream("small", max_batches=2))) == 2
    by_file = dl.Client(f"localhost:{server.port}", auth_token_file=str(token), **secure)
    assert len(read_all(by_file.stream("small", max_batches=1))) == 1

    def fails(client):
        with pytest.raises(DataLoaderError) as error:
            read_all(client.stream("small", max_batches=1))
        return error.value

    wrong = fails(dl.Client(server.target, auth_token="nope", **secure))
    assert wrong.code == StatusCode.UNAUTHENTICATED and "invalid bearer token" in wrong.message
    missing = fails(dl.Client(server.target, **secure))
    assert missing.code == StatusCode.UNAUTHENTICATED
    # Without the client certificate the handshake fails: the connection, not the call.
    no_certificate = fails(dl.Client(server.target, tls_ca_file=f"{TLS}/ca.pem",
                                     auth_token="s3cret", backend=backend, max_retries=0))
    assert no_certificate.code == StatusCode.UNAVAILABLE
    # A server certificate from another CA is not trusted.
    other_ca = fails(dl.Client(server.target, tls_ca_file=f"{TLS}/other_ca.pem",
                               tls_cert_file=f"{TLS}/client.pem",
                               tls_key_file=f"{TLS}/client.key", auth_token="s3cret",
                               backend=backend, max_retries=0))
    assert other_ca.code == StatusCode.UNAVAILABLE
    # Plaintext is refused to a non-loopback target unless asked for.
    with pytest.raises(DataLoaderError) as error:
        dl.Client("10.0.0.1:50051", tls_cert_file=f"{TLS}/client.pem", backend=backend)
    assert error.value.code == StatusCode.INVALID_ARGUMENT
