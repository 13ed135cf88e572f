# Copyright 2026 The dataloader Authors.
"""The Python client's receive rate against the C++ client's, in one run.

    /usr/bin/python3 tests/benchmarks/python_client_benchmark.py [--build_dir=build]
        [--batches=150] [--repeat=3] [--threads=0] [--train_model=none|small|resnet50]
        [--train_device=cuda:0] [--train_steps=50]

Starts a dataloader_server (from --build_dir) serving uint8 224x224x3 images in batches of 64
(9.6 MB) from a synthetic source that holds 64 distinct images in memory (distinct_samples),
so the server only copies and sends, and measures, each --repeat times in turn:

  (a) the C++ client: build/client/dataloader_client --json (BatchStream, protobuf parse);
  (b) the Python client's native backend, each batch made torch tensors (torch.from_numpy of
      the arrays over the received bytes);
  (c) the pure-Python backend (grpcio), the same;
  (d) the native backend with 4 streams to the server (streams_per_replica=4).

Each run streams --batches batches from opening the stream to the last batch. Printed: every
run's images/s and MB/s, the medians, b/a (target >= 0.9) and d/b; the share of payload bytes
the native backend copied after gRPC handed them over (at most one copy each); the server's
peak RSS. The client runs in this process, the server in another, on the same machine.

--train_model (needs torch; resnet50 needs torchvision): also images/s into a training step
(SGD, channels_last, device-side normalize through DataLoaderDataset) against the model's own
rate on synthetic input already on the device. "small" is the example trainer's ResNet-style
network behind an 8x8 average pool, cheap enough to run the path on a CPU; "resnet50" is
meant for a GPU.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONFIG = """
pipelines {{
  name: "bench"
  description: "uint8 224x224x3 images held in memory, batches of 64"
  synthetic {{ num_samples: {samples} height: 224 width: 224 channels: 3 num_classes: 1000
              distinct_samples: 64 }}
  batch_size: 64
  shuffle: false
}}
"""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build_dir", default=os.path.join(REPO, "build"))
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="Server threads (0: cores).")
    parser.add_argument("--train_model", choices=("none", "small", "resnet50"), default="none")
    parser.add_argument("--train_device", default="")
    parser.add_argument("--train_steps", type=int, default=50)
    return parser.parse_args()


class Server:
    def __init__(self, build_dir, config, threads):
        self.process = subprocess.Popen(
            [os.path.join(build_dir, "server", "dataloader_server"), "--address=127.0.0.1:0",
             f"--config={config}", f"--threads={threads}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in self.process.stdout:
            found = re.search(r"serving .* on 127\.0\.0\.1:(\d+)", line)
            if found:
                self.target = f"127.0.0.1:{found.group(1)}"
                return
        raise SystemExit("dataloader_server did not start")

    def peak_rss_mib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def run_cpp(args, target):
    out = subprocess.run(
        [os.path.join(args.build_dir, "client", "dataloader_client"), f"--target={target}",
         "--pipeline=bench", f"--max_batches={args.batches}", "--json"],
        capture_output=True, text=True, check=True, timeout=600).stdout
    summary = json.loads(out)
    assert summary["status"] == "OK" and summary["batches"] == args.batches, summary
    return summary["samples"], summary["bytes"], summary["seconds"], None


def run_python(args, target, backend, streams):
    import torch

    import dataloader_client as dl
    from dataloader_client.torch import _as_torch

    client = dl.Client(target, backend=backend, streams_per_replica=streams)
    samples = nbytes = 0
    start = time.perf_counter()
    with client.stream("bench", max_batches=args.batches) as stream:
        for batch in stream:
            tensors = {name: _as_torch(array, batch.dtypes[name])
                       for name, array in batch.tensors.items()}
            ids = torch.from_numpy(batch.sample_ids)
            samples += len(ids)
            nbytes += sum(t.numel() * t.element_size() for t in tensors.values())
        seconds = time.perf_counter() - start
        copied = None
        if backend == "native":
            subs = [s for s in stream._subs if s is not None]
            wire = sum(s.wire_bytes for s in subs)
            copied = sum(s.copied_bytes for s in subs) / wire if wire else 0.0
    assert samples == 64 * args.batches, samples
    return samples, nbytes, seconds, copied


def train_rates(args, target):
    """(images/s fed by the service, images/s on synthetic input on the device)."""
    import torch
    import torch.nn.functional as F

    from dataloader_client.torch import DataLoaderDataset

    device = torch.device(args.train_device or ("cuda:0" if torch.cuda.is_available()
                                                else "cpu"))
    if args.train_model == "resnet50":
        import torchvision
        model = torchvision.models.resnet50(num_classes=1000)
    else:
        # The example trainer's network behind an 8x8 average pool: the same path (device
        # ring, normalize, SGD step) at a cost a CPU can afford.
        sys.path.insert(0, os.path.join(REPO, "examples", "python"))
        from train_resnet import ResNet
        model = torch.nn.Sequential(torch.nn.AvgPool2d(8), ResNet(1000, width=8))
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(images, labels):
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    warmup = 5
    images = torch.randn(64, 3, 224, 224, device=device).contiguous(
        memory_format=torch.channels_last)
    labels = torch.randint(0, 1000, (64,), device=device)
    for i in range(warmup + args.train_steps):
        if i == warmup:
            synchronize()
            start = time.perf_counter()
        step(images, labels)
    synchronize()
    alone = 64 * args.train_steps / (time.perf_counter() - start)

    dataset = DataLoaderDataset("bench", target=target, device=device,
                                normalize=((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
                                max_batches=warmup + args.train_steps)
    for i, batch in enumerate(dataset):
        if i == warmup:
            synchronize()
            start = time.perf_counter()
        step(batch["image"], batch["label"])
    synchronize()
    fed = 64 * args.train_steps / (time.perf_counter() - start)
    return fed, alone, str(device)


def main():
    args = parse_args()
    sys.path.insert(0, os.path.join(args.build_dir, "python"))
    import dataloader_client as dl

    if dl.backend != "native":
        raise SystemExit("the native extension is not built: build the project first")
    workdir = tempfile.mkdtemp(prefix="python_client_benchmark_")
    config = os.path.join(workdir, "config.textproto")
    with open(config, "w") as file:
        # Room for --batches full batches in each of 4 sub-shards (mode d).
        file.write(CONFIG.format(samples=64 * 4 * max(args.batches, 100)))
    server = Server(args.build_dir, config, args.threads)
    modes = {
        "a": ("C++ client (dataloader_client)", lambda: run_cpp(args, server.target)),
        "b": ("Python native -> torch", lambda: run_python(args, server.target, "native", 1)),
        "c": ("Python fallback (grpcio) -> torch",
              lambda: run_python(args, server.target, "python", 1)),
        "d": ("Python native, 4 streams -> torch",
              lambda: run_python(args, server.target, "native", 4)),
    }
    rates = {key: [] for key in modes}
    copied = []
    try:
        run_python(argparse.Namespace(**{**vars(args), "batches": 10}), server.target,
                   "native", 1)  # Warm-up: the server's first batches, page faults.
        for round_ in range(args.repeat):
            for key, (name, run) in modes.items():
                samples, nbytes, seconds, copy_share = run()
                rates[key].append((samples / seconds, nbytes / 1e6 / seconds))
                if copy_share is not None and key == "b":
                    copied.append(copy_share)
                print(f"round {round_ + 1} ({key}) {name}: {samples / seconds:,.0f} images/s, "
                      f"{nbytes / 1e6 / seconds:,.1f} MB/s", flush=True)
        training = train_rates(args, server.target) if args.train_model != "none" else None
    finally:
        peak = server.peak_rss_mib()
        server.stop()
    median = {key: statistics.median(r[0] for r in runs) for key, runs in rates.items()}
    print()
    print(f"{'mode':40} {'images/s (median)':>18} {'MB/s (median)':>14}  runs (images/s)")
    for key, (name, _) in modes.items():
        mbs = statistics.median(r[1] for r in rates[key])
        runs = ", ".join(f"{r[0]:,.0f}" for r in rates[key])
        print(f"({key}) {name:36} {median[key]:>18,.0f} {mbs:>14,.1f}  {runs}")
    print(f"b/a = {median['b'] / median['a']:.3f} (target >= 0.9)   "
          f"d/b = {median['d'] / median['b']:.3f}   c/a = {median['c'] / median['a']:.3f}")
    if copied:
        print(f"native backend: {100 * statistics.median(copied):.1f}% of the received bytes "
              "copied once after gRPC handed them over (the rest viewed in place)")
    print(f"server peak RSS: {peak:.0f} MiB; cores: {os.cpu_count()}")
    if training is not None:
        fed, alone, device = training
        print(f"training ({args.train_model} on {device}): {fed:,.1f} images/s fed by the "
              f"service, {alone:,.1f} images/s on synthetic input: {fed / alone:.3f}")
    print("python_client_benchmark: " + json.dumps(
        {"a": round(median["a"]), "b": round(median["b"]), "c": round(median["c"]),
         "d": round(median["d"]), "b_over_a": round(median["b"] / median["a"], 3),
         "d_over_b": round(median["d"] / median["b"], 3)}))


if __name__ == "__main__":
    main()
