"""ResNet-18 on CIFAR-10 (SGD with momentum, per-batch schedule, AMP on a GPU).

torchvision's ResNet-18 adapted to 32x32 images (a 3x3 stride-1 first convolution, no max-pool,
10 classes), trained with SGD + momentum + weight decay. The scheduler steps once per batch, so
``total_steps = epochs * len(train_loader)``. The validation set is CIFAR-10's test split; its
loss is reported to autolr after every epoch (the accuracy is printed). The three autolr lines
are marked.

Data: CIFAR-10 is read from ``--data-dir`` (default ``data``) and downloaded there if missing.
When it cannot be downloaded (no network), the script says so on one line and falls back to
torchvision's ``FakeData`` (fixed-seed random images with random labels). ``--fake-data`` uses
FakeData from the start; ``--offline`` (or ``AUTOLR_OFFLINE=1``) never tries the network. FakeData
exercises the whole pipeline but has nothing to learn: its losses say nothing about schedules.

Run plainly (the optimizer's LR held constant, or the schedule named by ``AUTOLR_SCHEDULE``)::

    python examples/cifar_resnet.py --epochs 30
    AUTOLR_SCHEDULE=studies/cifar_resnet/best_schedule.json python examples/cifar_resnet.py

Tune (a study of short runs; the schedule's positions are fractions of the run, so the winner
transfers to a longer one)::

    autolr tune examples/cifar_resnet.py --trials 30 -- --epochs 10

A CPU smoke run (a few seconds)::

    python examples/cifar_resnet.py --fake-data --epochs 1 --train-size 32 --val-size 16 \\
        --batch-size 16

``num_workers`` defaults to 0: under ``autolr tune`` the script runs again and again in a
persistent worker process, where forking DataLoader processes per trial costs more than it saves
on small runs. Raise ``--workers`` for long GPU runs.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import transforms

import autolr  # autolr (1/3)

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
DOWNLOAD_TIMEOUT_S = 30  # per socket operation; no network fails at once, a black hole in 30 s
FAKE_TRAIN_SIZE = 512
FAKE_VAL_SIZE = 128
OFFLINE_ENV = "AUTOLR_OFFLINE"


def resnet18_cifar(num_classes: int = 10) -> nn.Module:
    """torchvision's ResNet-18 with the CIFAR stem: 3x3 stride-1 conv1 and no max-pool."""
    model = torchvision.models.resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def _transforms(augment: bool) -> transforms.Compose:
    steps: list = []
    if augment:
        steps += [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()]
    steps += [transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)]
    return transforms.Compose(steps)


def fake_datasets(train_size: int, val_size: int, image_size: int) -> tuple[Dataset, Dataset]:
    """FakeData train and validation sets; image ``i`` is the same in every run (FakeData seeds
    each image from its index and ``random_offset``)."""
    to_tensor = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
    shape = (3, image_size, image_size)
    train = torchvision.datasets.FakeData(
        size=train_size, image_size=shape, num_classes=10, transform=to_tensor, random_offset=0
    )
    val = torchvision.datasets.FakeData(
        size=val_size, image_size=shape, num_classes=10, transform=to_tensor,
        random_offset=10**6,
    )
    return train, val


def cifar_datasets(root: str, download: bool) -> tuple[Dataset, Dataset]:
    """CIFAR-10 train (augmented) and test sets from ``root``; raises if they are not there and
    ``download`` is False, or if the download fails."""
    train = torchvision.datasets.CIFAR10(root, train=True, download=download,
                                         transform=_transforms(augment=True))
    val = torchvision.datasets.CIFAR10(root, train=False, download=download,
                                       transform=_transforms(augment=False))
    return train, val


def load_datasets(args: argparse.Namespace) -> tuple[Dataset, Dataset, str]:
    """(train, validation, a name for the data): CIFAR-10 if present or downloadable, else
    FakeData with a one-line warning on stderr."""
    train_size = args.train_size or FAKE_TRAIN_SIZE
    val_size = args.val_size or FAKE_VAL_SIZE
    if args.fake_data:
        return (*fake_datasets(train_size, val_size, args.image_size), "FakeData")
    try:
        return (*cifar_datasets(args.data_dir, download=False), "CIFAR-10")
    except RuntimeError:  # torchvision: "Dataset not found or corrupted."
        pass
    offline = args.offline or os.environ.get(OFFLINE_ENV, "") not in ("", "0")
    if offline:
        why = f"it is not in {args.data_dir}/ and offline mode is on"
    else:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        try:
            return (*cifar_datasets(args.data_dir, download=True), "CIFAR-10")
        except (OSError, RuntimeError) as exc:  # URLError, timeouts, bad checksums
            why = f"the download to {args.data_dir}/ failed ({type(exc).__name__}: {exc})"
        finally:
            socket.setdefaulttimeout(previous)
    print(
        f"cifar_resnet: CIFAR-10 is unavailable: {why}; falling back to FakeData (random images "
        "and labels: a smoke test, not a benchmark). Pass --fake-data to skip this, or put "
        f"cifar-10-batches-py in {args.data_dir}/.",
        file=sys.stderr,
        flush=True,
    )
    return (*fake_datasets(train_size, val_size, args.image_size), "FakeData")


def _limit(dataset: Dataset, size: int | None) -> Dataset:
    if size is None or size >= len(dataset):  # type: ignore[arg-type]
        return dataset
    return Subset(dataset, range(size))


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device,
             use_amp: bool) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over ``loader``."""
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
        for images, labels in loader:
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            logits = model(images)
            total_loss += nn.functional.cross_entropy(
                logits.float(), labels, reduction="sum"
            ).item()
            correct += (logits.argmax(1) == labels).sum().item()
            count += len(labels)
    return total_loss / count, correct / count


def train(args: argparse.Namespace) -> float:
    """Train and return the last validation loss; reports it to autolr after every epoch."""
    if args.seed is not None:
        torch.manual_seed(args.seed)
    device = pick_device(args.device)
    use_amp = device.type == "cuda"
    train_set, val_set, data_name = load_datasets(args)
    train_set, val_set = _limit(train_set, args.train_size), _limit(val_set, args.val_size)
    pin = device.type == "cuda"
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              num_workers=args.workers, pin_memory=pin)
    val_loader = DataLoader(val_set, batch_size=max(args.batch_size, 256), shuffle=False,
                            num_workers=args.workers, pin_memory=pin)

    model = resnet18_cifar().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay, nesterov=True)
    scheduler = autolr.scheduler(  # autolr (2/3)
        optimizer, total_steps=args.epochs * len(train_loader)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    print(f"{data_name}: {len(train_set)} train / {len(val_set)} validation images, "
          f"{len(train_loader)} batches per epoch, device {device}", flush=True)

    val_loss = float("nan")
    for epoch in range(args.epochs):
        model.train()
        for images, labels in train_loader:
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()  # every batch, also when AMP skipped a step: the count stays exact
        val_loss, accuracy = evaluate(model, val_loader, device, use_amp)
        autolr.report(val_loss, step=epoch)  # autolr (3/3)
        lr = optimizer.param_groups[0]["lr"]
        print(f"epoch {epoch + 1}/{args.epochs}  val_loss {val_loss:.4f}  "
              f"accuracy {accuracy:.3f}  lr {lr:.6g}", flush=True)
    return val_loss


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1, help="the script's own (peak) LR")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda:1…")
    parser.add_argument("--data-dir", default="data", help="where CIFAR-10 is (or goes)")
    parser.add_argument("--fake-data", action="store_true",
                        help="use torchvision FakeData (offline smoke runs)")
    parser.add_argument("--offline", action="store_true",
                        help=f"never download; fall back to FakeData (also {OFFLINE_ENV}=1)")
    parser.add_argument("--train-size", type=int, default=None,
                        help=f"use the first N training images (FakeData: {FAKE_TRAIN_SIZE})")
    parser.add_argument("--val-size", type=int, default=None,
                        help=f"use the first N validation images (FakeData: {FAKE_VAL_SIZE})")
    parser.add_argument("--image-size", type=int, default=32,
                        help="FakeData image side (smaller is faster on a CPU)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed torch (under autolr tune each trial is seeded already)")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "train_size", "val_size", "image_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    return args


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
