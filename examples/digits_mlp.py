"""A small MLP on scikit-learn's handwritten digits: seconds per run on a CPU.

Runs plainly (``python examples/digits_mlp.py``) with a constant LR, or with a tuned schedule
(``AUTOLR_SCHEDULE=studies/digits_mlp/best_schedule.json python examples/digits_mlp.py``), and is
tuned with ``autolr tune examples/digits_mlp.py --trials 12``. The three autolr lines are marked.
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits
from torch import nn

import autolr  # autolr (1/3)


def load_data(seed: int = 0) -> tuple[torch.Tensor, ...]:
    """The 1,797 digits split 80/20 with a fixed permutation; pixels scaled to [0, 1]."""
    features, labels = load_digits(return_X_y=True)
    x = torch.tensor(features / 16.0, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    cut = int(0.8 * len(x))
    return x[:cut], y[:cut], x[cut:], y[cut:]


def train(
    epochs: int = 8,
    lr: float = 0.05,
    batch_size: int = 64,
    hidden: int = 64,
    seed: int | None = None,
) -> float:
    """Train and return the final validation loss; reports it to autolr after every epoch."""
    if seed is not None:
        torch.manual_seed(seed)
    x_train, y_train, x_val, y_val = load_data()
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    batches = (len(x_train) + batch_size - 1) // batch_size
    scheduler = autolr.scheduler(optimizer, total_steps=epochs * batches)  # autolr (2/3)
    val_loss = float("nan")
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train))
        for i in range(batches):
            idx = order[i * batch_size : (i + 1) * batch_size]
            loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            val_loss = nn.functional.cross_entropy(logits, y_val).item()
            accuracy = (logits.argmax(1) == y_val).float().mean().item()
        autolr.report(val_loss, step=epoch)  # autolr (3/3)
        print(f"epoch {epoch + 1}/{epochs}  val_loss {val_loss:.4f}  accuracy {accuracy:.3f}")
    return val_loss


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.05, help="the script's own (peak) LR")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=None,
                        help="seed torch (AUTOLR_SEED does too; under autolr tune each trial "
                             "has its own seed)")
    args = parser.parse_args(argv)
    seed = autolr.seed(default=args.seed)  # the trial's seed under autolr tune
    train(args.epochs, args.lr, args.batch_size, args.hidden, seed)


if __name__ == "__main__":
    main()
