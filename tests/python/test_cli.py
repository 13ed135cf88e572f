# Copyright 2026 The dataloader Authors.
"""python3 -m dataloader_client against a real server, beside the C++ dataloader_client."""

import json
import os
import subprocess
import sys

import dataloader_client as dl
from dataloader_client import __main__ as cli
from conftest import CLIENT_BINARY, PACKAGE_DIR


def run(*args, backend=None):
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR)
    command = [sys.executable, "-m", "dataloader_client"]
    if backend:
        command.append(f"--backend={backend}")
    result = subprocess.run(command + list(args), capture_output=True, text=True, timeout=120,
                            env=env)
    return result.returncode, result.stdout, result.stderr


def test_list_prints_what_the_cpp_tool_prints(server, backend):
    code, out, err = run("list", f"--target={server.target}", backend=backend)
    assert code == 0, err
    assert "tensor image: UINT8 [8, 4, 5, 3]" in out
    cpp = subprocess.run([CLIENT_BINARY, "--list", f"--target={server.target}"],
                         capture_output=True, text=True, timeout=60)
    assert out == cpp.stdout


def test_stream_json_verified_matches_the_cpp_tool(server, backend):
    code, out, err = run("stream", f"--target={server.target}", "--pipeline=small",
                         "--max_batches=5", "--json", "--verify", "--epoch=3", backend=backend)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["verified"] and summary["status"] == "OK"
    assert summary["backend"] == backend
    cpp = subprocess.run([CLIENT_BINARY, f"--target={server.target}", "--pipeline=small",
                          "--max_batches=5", "--json", "--verify", "--epoch=3"],
                         capture_output=True, text=True, timeout=60)
    expected = json.loads(cpp.stdout)
    for key in ("pipeline", "batches", "samples", "bytes", "reconnects", "verified", "status"):
        assert summary[key] == expected[key], key
    code, out, _ = run("stream", f"--target={server.target}", "--pipeline=small",
                       backend=backend)
    assert code == 0
    assert out.startswith("dataloader_client: 13 batches, 103 samples,")
    assert out.rstrip().endswith("0 reconnects (OK)")


def test_replicas_with_streams_per_replica_verify(make_server, backend):
    replicas = ",".join(make_server().target for _ in range(2))
    code, out, err = run("stream", f"--replicas={replicas}", "--streams_per_replica=2",
                         "--pipeline=small", "--shard_index=1", "--shard_count=2", "--verify",
                         "--json", backend=backend)
    assert code == 0, err
    # 2 ranks x 2 replicas x 2 streams = 8 sub-shards of 103 // 8 = 12 samples, 2 batches
    # each: 4 sub-streams x 2 batches for this rank.
    assert json.loads(out)["batches"] == 8 and json.loads(out)["verified"]


def test_exit_codes(server, backend):
    code, _, err = run("stream", f"--target={server.target}", "--pipeline=nope",
                       backend=backend)
    assert code == 1 and "NOT_FOUND" in err
    code, _, err = run("stream", f"--target={server.target}", "--shard_index=x",
                       backend=backend)
    assert code == 2 and "invalid int value" in err
    code, _, err = run("stream", "--no_such_flag", backend=backend)
    assert code == 2
    code, _, err = run("stream", "--streams_per_replica=0", backend=backend)
    assert code == 2 and "--streams_per_replica must be >= 1, got 0" in err
    code, _, err = run("stream", f"--target={server.target}", "--tls_ca_file=/nonexistent",
                       backend=backend)
    assert code == 2 and "FAILED_PRECONDITION" in err
    code, _, _ = run(backend=backend)
    assert code == 2


def test_verify_mismatch_exits_3(server, monkeypatch, capsys, backend):
    real = dl.Client.pipeline_info

    def wrong_shape(self, pipeline, timeout=10.0):
        info = real(self, pipeline, timeout)
        image = info.tensors[0]
        return dl.PipelineInfo(**{**info.__dict__, "tensors": (
            dl.TensorSpec(image.name, image.dtype, image.shape[:-1] + (4,)), info.tensors[1])})

    monkeypatch.setattr(dl.Client, "pipeline_info", wrong_shape)
    code = cli.main([f"--backend={backend}", "stream", f"--target={server.target}",
                     "--pipeline=small", "--verify"])
    captured = capsys.readouterr()
    assert code == 3
    assert "VERIFY_FAILED: batch 0: tensor 'image' (UINT8 [8, 4, 5, 3]) does not match" \
        in captured.out


def test_verify_refuses_a_batch_without_samples():
    import numpy as np
    info = dl.PipelineInfo("p", "", 8, 4, (dl.TensorSpec("image", "uint8", (4, 2)),), False,
                           False, True, "drop", 100)
    empty = dl.Batch(0, 0, {}, {}, np.zeros(0, dtype=np.int64), b"")
    assert "no samples" in cli.mismatch(empty, 0, 1, info)
    full = dl.Batch(1, 0, {"image": np.zeros((4, 2), np.uint8)}, {"image": "uint8"},
                    np.arange(4), b"")
    assert cli.mismatch(full, 1, 1, info) == ""
    assert "sequence 1, expected 0" in cli.mismatch(full, 1, 2, info)


def test_progress_line_when_stderr_is_a_terminal(server, backend):
    import pty
    primary, secondary = pty.openpty()
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR)
    process = subprocess.Popen(
        [sys.executable, "-m", "dataloader_client", f"--backend={backend}", "stream",
         f"--target={server.target}", "--pipeline=slow", "--max_batches=20"],
        stdout=subprocess.PIPE, stderr=secondary, env=env, text=True)
    os.close(secondary)
    out, _ = process.communicate(timeout=120)
    progress = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # The terminal's other end is closed: all read.
            break
        if not chunk:
            break
        progress += chunk
    os.close(primary)
    assert process.returncode == 0
    assert b"\r" in progress and b"samples/s" in progress and b"MB/s" in progress
    assert out.startswith("dataloader_client: 20 batches")
