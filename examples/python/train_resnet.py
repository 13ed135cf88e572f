# Copyright 2026 The dataloader Authors.
"""An example trainer: a ResNet-style network fed by a dataloader service, DDP-ready.

One process per rank. Alone:

    PYTHONPATH=build/python /usr/bin/python3 examples/python/train_resnet.py \\
        --target=127.0.0.1:50051 --pipeline=train --epochs=2

With DDP, start one process per rank with the usual environment (torchrun sets it; on
Debian 12's torch 1.13 + Python 3.11 torchrun itself is broken, so set it by hand):

    for rank in 0 1; do
      RANK=$rank WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 \\
        PYTHONPATH=build/python /usr/bin/python3 examples/python/train_resnet.py \\
        --target=127.0.0.1:50051 --pipeline=train &
    done; wait

Each rank streams its own shard of every epoch (DataLoaderDataset takes rank and world size
from torch.distributed), so the ranks together see every sample once per epoch and step
together (every shard has the same number of batches). The pipeline should send uint8 NHWC
images ("image") and int64 labels ("label"); the images are normalized on the device.
Runs on CPU (gloo) or on GPUs (nccl, one per rank: LOCAL_RANK). --checkpoint saves the
model, the optimizer and each rank's stream position every epoch; --resume continues from
them exactly, also against a restarted loader.
"""

import argparse
import json
import os
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from dataloader_client.torch import DataLoaderDataset

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BasicBlock(nn.Module):
    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut = nn.Sequential()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False),
                                          nn.BatchNorm2d(outputs))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet-style: a stem, stages of two basic blocks (each stage halves the resolution
    and doubles the width), global average pooling, a linear classifier."""

    def __init__(self, num_classes, width=16, stages=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        blocks, channels = [], width
        for stage in range(stages):
            out = width * 2**stage
            blocks += [BasicBlock(channels, out, 1 if stage == 0 else 2),
                       BasicBlock(out, out, 1)]
            channels = out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="127.0.0.1:50051")
    parser.add_argument("--replicas", default="", help="HOST:PORT,... or dns:NAME:PORT")
    parser.add_argument("--streams_per_replica", type=int, default=1)
    parser.add_argument("--pipeline", default="train")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max_steps", type=int, default=0, help="Per epoch; 0: all.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_classes", type=int, default=10)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--device", default="", help="Default: cuda:LOCAL_RANK if available.")
    parser.add_argument("--checkpoint", default="", help="Directory for checkpoints.")
    parser.add_argument("--resume", action="store_true", help="Continue from --checkpoint.")
    parser.add_argument("--backend", default=None, choices=("native", "python"))
    parser.add_argument("--dump_sample_ids", default="",
                        help="Write each rank's sample ids per epoch to FILE.RANK (JSON lines).")
    return parser.parse_args()


def main():
    args = parse_args()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0")))
    device = torch.device(args.device or (f"cuda:{local_rank}" if torch.cuda.is_available()
                                          else "cpu"))
    if world_size > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    rank = dist.get_rank() if world_size > 1 else 0
    torch.manual_seed(args.seed)  # The same initial weights on every rank.

    source = {"replicas": args.replicas} if args.replicas else {"target": args.target}
    dataset = DataLoaderDataset(args.pipeline, **source,
                                streams_per_replica=args.streams_per_replica, seed=args.seed,
                                device=device, normalize=(IMAGENET_MEAN, IMAGENET_STD),
                                max_batches=args.max_steps, backend=args.backend)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=0)

    model = ResNet(args.num_classes, args.width).to(device, memory_format=torch.channels_last)
    if world_size > 1:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    first_epoch = 0
    checkpoint = os.path.join(args.checkpoint, f"rank{rank}.pt") if args.checkpoint else ""
    if args.resume and checkpoint and os.path.exists(checkpoint):
        state = torch.load(checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        dataset.load_state_dict(state["data"])  # Refuses another world size or pipeline.
        first_epoch = dataset.epoch

    dump = open(f"{args.dump_sample_ids}.{rank}", "a") if args.dump_sample_ids else None
    samples = steps = 0
    loss = torch.zeros(())
    start = time.monotonic()
    for epoch in range(first_epoch, args.epochs):
        dataset.set_epoch(epoch)  # Keeps a loaded position in this same epoch.
        ids = []
        for batch in loader:
            images, labels = batch["image"], batch["label"].to(device, non_blocking=True)
            loss = F.cross_entropy(model(images), labels % args.num_classes)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            samples += len(labels)
            ids += batch["sample_ids"].tolist()
        if dump:
            dump.write(json.dumps({"rank": rank, "epoch": epoch, "ids": ids}) + "\n")
            dump.flush()
        if checkpoint:
            os.makedirs(args.checkpoint, exist_ok=True)
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "data": dataset.state_dict()}, checkpoint)
        print(f"rank {rank}: epoch {epoch}: {len(ids)} samples, loss {loss.item():.4f}",
              flush=True)
    seconds = time.monotonic() - start
    weights = sum(float(p.detach().double().sum()) for p in model.parameters())
    print(json.dumps({"rank": rank, "world_size": world_size, "steps": steps,
                      "samples": samples, "images_per_second": round(samples / seconds, 1),
                      "loss": round(loss.item(), 4), "weights_checksum": weights,
                      "backend": dataset.client.backend, "device": str(device)}), flush=True)
    if world_size > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
