# Copyright 2026 The dataloader Authors.
"""PyTorch baseline for the image-pipeline benchmark: the standard ImageNet training input
pipeline (torchvision ImageFolder + DataLoader), timed over full epochs of DATASET_DIR.

Usage (Debian's torch is installed for the system interpreter, so run it with that):

    /usr/bin/python3 tests/benchmarks/torch_baseline.py DATASET_DIR \\
        [--workers=N] [--batch=32] [--epochs=1] [--warmup_batches=5] [--uint8]

DATASET_DIR is an ImageFolder tree (DIR/class_xxx/*.jpg), e.g. from
`make_image_dataset --output=DIR --images=2000`. Per image: decode (PIL), RandomResizedCrop(224)
(scale (0.08, 1), ratio (3/4, 4/3), bilinear), RandomHorizontalFlip, ToTensor, Normalize with
the ImageNet mean/std; batches of 32 from DataLoader(shuffle=True, num_workers=N,
persistent_workers=False, drop_last=False). With --uint8, PILToTensor instead of ToTensor +
Normalize: uint8 batches, for trainers that normalize on the GPU.

Timing: in every epoch the clock starts once the first --warmup_batches batches have arrived,
so that the workers' start-up (forking, importing, the first prefetch) is not counted; the rate
is the images delivered after that divided by the time from then to the epoch's last batch.

The last line of output is always `torch_images_per_s=<float>`, for scripts; the line before it
says what was measured. Exit status 3 if torch or torchvision is missing, 2 on bad arguments.
"""

import argparse
import os
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(
        description="Time torchvision's ImageFolder + DataLoader ImageNet training pipeline."
    )
    parser.add_argument("dataset_dir", metavar="DATASET_DIR", help="ImageFolder root directory")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count(),
        help="DataLoader worker processes (default: os.cpu_count() = %(default)s)",
    )
    parser.add_argument("--batch", type=int, default=32, help="batch size (default: 32)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs to time (default: 1)")
    parser.add_argument(
        "--uint8",
        action="store_true",
        help="PILToTensor (uint8) instead of ToTensor + Normalize (float32)",
    )
    parser.add_argument(
        "--warmup_batches",
        type=int,
        default=5,
        help="batches per epoch received before the clock starts (default: 5)",
    )
    args = parser.parse_args()
    if args.workers < 0:
        parser.error(f"--workers must be >= 0, got {args.workers}")
    if args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.warmup_batches < 0:
        parser.error(f"--warmup_batches must be >= 0, got {args.warmup_batches}")
    if not os.path.isdir(args.dataset_dir):
        parser.error(f"DATASET_DIR {args.dataset_dir!r} is not a directory")
    return args


def main():
    args = parse_args()
    try:
        import torch
        import torchvision
        from torchvision import datasets, transforms
    except ImportError as e:
        print(
            f"torch_baseline.py: cannot import torch/torchvision ({e}). Install Debian's "
            "packages with: apt-get install python3-torch python3-torchvision "
            "(and run this script with /usr/bin/python3)",
            file=sys.stderr,
        )
        return 3

    torch.manual_seed(0)  # Same shuffle order and crops on every run.
    augment = [
        transforms.RandomResizedCrop(224),  # scale (0.08, 1), ratio (3/4, 4/3), bilinear
        transforms.RandomHorizontalFlip(),
    ]
    if args.uint8:
        to_tensor = [transforms.PILToTensor()]
    else:
        to_tensor = [
            transforms.ToTensor(),
            transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ]
    transform = transforms.Compose(augment + to_tensor)
    expected_dtype = torch.uint8 if args.uint8 else torch.float32
    try:
        dataset = datasets.ImageFolder(args.dataset_dir, transform=transform)
    except (FileNotFoundError, RuntimeError) as e:
        print(
            f"torch_baseline.py: {args.dataset_dir} is not an ImageFolder dataset: {e}",
            file=sys.stderr,
        )
        return 2
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=args.batch,
        shuffle=True,
        num_workers=args.workers,
        persistent_workers=False,
        drop_last=False,
    )
    batches_per_epoch = len(loader)
    if args.warmup_batches >= batches_per_epoch:
        print(
            f"torch_baseline.py: --warmup_batches={args.warmup_batches} leaves nothing to time: "
            f"an epoch of {len(dataset)} images has only {batches_per_epoch} batches of "
            f"{args.batch}",
            file=sys.stderr,
        )
        return 2
    print(
        f"torch {torch.__version__}, torchvision {torchvision.__version__}: {len(dataset)} "
        f"images in {len(dataset.classes)} classes from {args.dataset_dir}; batch {args.batch}, "
        f"{args.workers} workers, {args.epochs} epoch(s), "
        f"{'uint8 (PILToTensor)' if args.uint8 else 'float32 (ToTensor + Normalize)'}",
        flush=True,
    )

    timed_images = 0
    timed_seconds = 0.0
    total_images = 0
    for epoch in range(args.epochs):
        epoch_start = time.perf_counter()
        clock_start = epoch_start if args.warmup_batches == 0 else None
        for batch_index, (images, labels) in enumerate(loader):
            # Touch the batch, as a training step would receive it.
            n, channels, height, width = images.shape
            assert (channels, height, width) == (3, 224, 224) and labels.shape == (n,)
            assert images.dtype == expected_dtype
            total_images += n
            if clock_start is not None:
                timed_images += n
            if batch_index + 1 == args.warmup_batches:
                clock_start = time.perf_counter()
        epoch_end = time.perf_counter()
        timed_seconds += epoch_end - clock_start
        print(
            f"  epoch {epoch}: {epoch_end - epoch_start:.2f} s in all, of which "
            f"{clock_start - epoch_start:.2f} s to the first {args.warmup_batches} batches "
            f"(worker start-up, not timed)",
            flush=True,
        )
    if total_images != len(dataset) * args.epochs:
        print(
            f"torch_baseline.py: got {total_images} images, expected "
            f"{len(dataset) * args.epochs}",
            file=sys.stderr,
        )
        return 1

    rate = timed_images / timed_seconds
    print(
        f"torch baseline: {args.workers} workers, {timed_images} images timed in "
        f"{timed_seconds:.2f} s (of {total_images}; the first {args.warmup_batches} batches of "
        f"each epoch excluded, to leave out worker start-up): {rate:.1f} images/s"
    )
    print(f"torch_images_per_s={rate:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
