# Copyright 2026 The dataloader Authors.
"""dataloader_client.torch (Debian's python3-torch, CPU) against real servers."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import dataloader_client as dl
from dataloader_client import torch as dltorch
from dataloader_client.torch import DataLoaderDataset
from conftest import PACKAGE_DIR, REPO, free_port, run_python

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# "pixels": 60 samples of 8x8x3, batches of 8, drop_last.


def reference(target, epoch=0, seed=0, shard_index=0, shard_count=1, backend=None):
    with dl.Client(target, backend=backend).stream("pixels", epoch=epoch, seed=seed,
                                                   shard_index=shard_index,
                                                   shard_count=shard_count) as stream:
        return [(b.sample_ids.copy(), b.tensors["image"].copy(), b.tensors["label"].copy())
                for b in stream]


def normalized(image):
    x = image.astype(np.float64) / 255.0
    x = (x - np.array(MEAN)) / np.array(STD)
    return x.transpose(0, 3, 1, 2)


def test_round_trip_through_a_dataloader(server, backend):
    dataset = DataLoaderDataset("pixels", target=server.target, seed=1, backend=backend)
    expected = reference(server.target, seed=1)
    assert len(dataset) == len(expected) == 7
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=0)
    assert len(loader) == 7
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # No torch warning about read-only arrays either.
        got = list(loader)
    assert len(got) == 7
    for batch, (ids, image, label) in zip(got, expected):
        assert set(batch) == {"image", "label", "sample_ids"}
        assert batch["image"].dtype == torch.uint8 and batch["image"].shape == (8, 8, 8, 3)
        assert batch["label"].dtype == torch.int64
        np.testing.assert_array_equal(batch["sample_ids"].numpy(), ids)
        np.testing.assert_array_equal(batch["image"].numpy(), image)
        np.testing.assert_array_equal(batch["label"].numpy(), label)


def test_normalize_gives_channels_last_float_nchw(server, backend):
    dataset = DataLoaderDataset("pixels", target=server.target, backend=backend,
                                normalize=(MEAN, STD))
    for batch, (_, image, _) in zip(dataset, reference(server.target)):
        out = batch["image"]
        assert out.dtype == torch.float32 and out.shape == (8, 3, 8, 8)
        assert out.is_contiguous(memory_format=torch.channels_last)
        np.testing.assert_allclose(out.numpy(), normalized(image), rtol=1e-5, atol=1e-5)


def test_device_path_stages_through_the_ring_without_aliasing(server, backend, monkeypatch):
    monkeypatch.setattr(dltorch, "_said", set())
    dataset = DataLoaderDataset("pixels", target=server.target, backend=backend, device="cpu",
                                normalize=(MEAN, STD), ring_size=2)
    with pytest.warns(RuntimeWarning, match="not pinned"):
        batches = list(dataset)  # Kept: a reused staging buffer must not show through.
    again = list(dataset)  # The next epoch: said once only (no warning, checked below).
    assert len(batches) == len(again) == 7
    for batch, (ids, image, label) in zip(batches, reference(server.target)):
        assert batch["image"].device.type == "cpu"
        assert batch["image"].is_contiguous(memory_format=torch.channels_last)
        np.testing.assert_allclose(batch["image"].numpy(), normalized(image), rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_array_equal(batch["label"].numpy(), label)
        np.testing.assert_array_equal(batch["sample_ids"].numpy(), ids)
    # Without normalize the device path still hands out fresh tensors.
    plain = list(DataLoaderDataset("pixels", target=server.target, backend=backend,
                                   device="cpu", ring_size=1))
    for batch, (_, image, _) in zip(plain, reference(server.target)):
        np.testing.assert_array_equal(batch["image"].numpy(), image)


def test_normalize_refuses_bad_arguments_and_tensors(server):
    with pytest.raises(dl.DataLoaderError, match="same, non-zero length"):
        DataLoaderDataset("pixels", target=server.target, normalize=((0.5, 0.5), (1,)))
    with pytest.raises(dl.DataLoaderError, match="std must be > 0"):
        DataLoaderDataset("pixels", target=server.target, normalize=(MEAN, (1, 0, 1)))
    dataset = DataLoaderDataset("floats", target=server.target, normalize=(MEAN, STD))
    with pytest.raises(dl.DataLoaderError, match="must be uint8 \\[N, H, W, C\\]"):
        next(iter(dataset))


def test_epochs_set_epoch_and_the_automatic_next_epoch(server, backend):
    dataset = DataLoaderDataset("pixels", target=server.target, backend=backend)
    first = [b["sample_ids"].tolist() for b in dataset]
    second = [b["sample_ids"].tolist() for b in dataset]  # Never set_epoch: the next epoch.
    assert first == [ids.tolist() for ids, _, _ in reference(server.target, epoch=0)]
    assert second == [ids.tolist() for ids, _, _ in reference(server.target, epoch=1)]
    dataset.set_epoch(5)
    assert [b["sample_ids"].tolist() for b in dataset] == [
        ids.tolist() for ids, _, _ in reference(server.target, epoch=5)]
    fixed = DataLoaderDataset("pixels", target=server.target, auto_next_epoch=False)
    assert [b["sample_ids"].tolist() for b in fixed] == [b["sample_ids"].tolist()
                                                         for b in fixed]


def test_rank_and_world_size_from_arguments_and_environment(server, monkeypatch):
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "3")
    dataset = DataLoaderDataset("pixels", target=server.target)
    assert dataset.rank_and_world_size() == (2, 3)
    # 60 / 3 = 20 samples per rank, batches of 8, drop_last: 2 batches on every rank.
    assert len(dataset) == 2
    ids = [b["sample_ids"].tolist() for b in dataset]
    assert ids == [i.tolist() for i, _, _ in reference(server.target, shard_index=2,
                                                        shard_count=3)]
    explicit = DataLoaderDataset("pixels", target=server.target, rank=0, world_size=2)
    assert explicit.rank_and_world_size() == (0, 2) and len(explicit) == 3
    monkeypatch.setenv("RANK", "3")
    with pytest.raises(dl.DataLoaderError, match="rank must be in \\[0, 3\\), got 3"):
        len(DataLoaderDataset("pixels", target=server.target))


def test_worker_processes_are_refused_with_an_explanation(server):
    dataset = DataLoaderDataset("pixels", target=server.target)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)
    with pytest.raises(RuntimeError) as error:
        list(loader)
    assert "num_workers=0" in str(error.value) and "fork" in str(error.value)


def test_state_dict_resumes_after_the_last_batch_handed_out(server, backend):
    whole = [b["sample_ids"].tolist() for b in
             DataLoaderDataset("pixels", target=server.target, seed=4, backend=backend)]
    dataset = DataLoaderDataset("pixels", target=server.target, seed=4, backend=backend)
    head = []
    for batch in dataset:
        head.append(batch["sample_ids"].tolist())
        if len(head) == 3:
            state = dataset.state_dict()
            break
    assert state["batches"] == 3 and state["epoch"] == 0 and not state["epoch_complete"]
    resumed = DataLoaderDataset("pixels", target=server.target, seed=4, backend=backend)
    resumed.load_state_dict(state)
    resumed.set_epoch(0)  # A training loop's set_epoch of the same epoch keeps the position.
    assert len(resumed) == 7
    rest = [b["sample_ids"].tolist() for b in resumed]
    assert head + rest == whole
    # The pass completed: the state says so and the next pass is the next epoch.
    after = resumed.state_dict()
    assert after["epoch_complete"] and after["next_epoch"] == 1
    fresh = DataLoaderDataset("pixels", target=server.target, seed=4, backend=backend)
    fresh.load_state_dict(after)
    assert fresh.epoch == 1


def test_a_state_of_another_world_size_or_pipeline_is_refused(server):
    state = DataLoaderDataset("pixels", target=server.target, rank=0, world_size=2).state_dict()
    for other, words in ((dict(rank=0, world_size=4), "world size 2, this dataset has 4"),
                         (dict(rank=1, world_size=2), "rank 0, this dataset has 1"),
                         (dict(rank=0, world_size=2, seed=3), "seed 0, this dataset has 3")):
        with pytest.raises(ValueError, match=words):
            DataLoaderDataset("pixels", target=server.target, **other).load_state_dict(state)
    with pytest.raises(ValueError, match="pipeline 'pixels', this dataset has 'small'"):
        DataLoaderDataset("small", target=server.target, rank=0,
                          world_size=2).load_state_dict(state)
    with pytest.raises(ValueError, match="not a DataLoaderDataset state_dict"):
        DataLoaderDataset("pixels", target=server.target).load_state_dict({"epoch": 0})


def test_bfloat16_bits_become_a_bfloat16_tensor():
    bits = (np.array([1.5, -2.0, 256.0], dtype=np.float32).view(np.uint32) >> 16).astype(
        np.uint16)
    tensor = dltorch._as_torch(bits, "bfloat16")
    assert tensor.dtype == torch.bfloat16
    assert tensor.float().tolist() == [1.5, -2.0, 256.0]


RESUME_SCRIPT = r"""
import json, sys, torch
from dataloader_client.torch import DataLoaderDataset
mode, source, state_path, out_path = sys.argv[1:5]
kwargs = json.loads(source)
dataset = DataLoaderDataset("slow", seed=7, epoch=2, rank=1, world_size=2, **kwargs)
ids = []
if mode == "head":
    for batch in dataset:
        ids.append(batch["sample_ids"].tolist())
        if len(ids) == 5:
            torch.save({"data": dataset.state_dict()}, state_path)
            break
else:
    dataset.load_state_dict(torch.load(state_path)["data"])
    ids = [batch["sample_ids"].tolist() for batch in dataset]
json.dump(ids, open(out_path, "w"))
"""


@pytest.mark.parametrize("scale_out", ["single", "merged"])
def test_state_dict_in_a_new_process_against_a_restarted_server(make_server, tmp_path, backend,
                                                                 scale_out):
    servers = [make_server() for _ in range(2 if scale_out == "merged" else 1)]

    def source():
        if scale_out == "merged":
            return {"replicas": [s.target for s in servers], "streams_per_replica": 2,
                    "backend": backend}
        return {"target": servers[0].target, "backend": backend}

    whole_dataset = DataLoaderDataset("slow", seed=7, epoch=2, rank=1, world_size=2, **source())
    whole = [b["sample_ids"].tolist() for b in whole_dataset]
    state, head_ids, rest_ids = tmp_path / "state.pt", tmp_path / "head", tmp_path / "rest"
    code, out, err = run_python(RESUME_SCRIPT, "head", json.dumps(source()), str(state),
                                str(head_ids))
    assert code == 0, err
    # The loaders restart (another process, another port): tokens need only the same config.
    for s in servers:
        s.stop()
        s.start()
    code, out, err = run_python(RESUME_SCRIPT, "rest", json.dumps(source()), str(state),
                                str(rest_ids))
    assert code == 0, err
    head, rest = json.loads(head_ids.read_text()), json.loads(rest_ids.read_text())
    assert len(head) == 5 and head + rest == whole


def test_ddp_world_of_two_with_gloo_trains_on_disjoint_shards(server, tmp_path):
    dump = tmp_path / "ids"
    port = free_port()
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR, WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    processes = [subprocess.Popen(
        [sys.executable, os.path.join(REPO, "examples", "python", "train_resnet.py"),
         f"--target={server.target}", "--pipeline=pixels", "--epochs=2", "--width=4",
         "--device=cpu", f"--dump_sample_ids={dump}"],
        env=dict(env, RANK=str(rank), LOCAL_RANK=str(rank)), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert [o["rank"] for o in outputs] == [0, 1]
    assert all(o["world_size"] == 2 and o["steps"] == 6 for o in outputs)  # 3 per epoch.
    # DDP kept the replicas of the model identical.
    assert outputs[0]["weights_checksum"] == pytest.approx(outputs[1]["weights_checksum"])
    epochs = {}
    for rank in (0, 1):
        for line in open(f"{dump}.{rank}"):
            record = json.loads(line)
            epochs.setdefault(record["epoch"], {})[rank] = record["ids"]
    assert sorted(epochs) == [0, 1]
    for epoch, by_rank in epochs.items():
        assert len(by_rank[0]) == len(by_rank[1]) == 24  # 30 per rank, 3 full batches.
        assert not set(by_rank[0]) & set(by_rank[1])
        assert by_rank[0] == [i for ids, _, _ in reference(server.target, epoch=epoch,
                                                            shard_index=0, shard_count=2)
                              for i in ids.tolist()]
    assert epochs[0][0] != epochs[1][0]
