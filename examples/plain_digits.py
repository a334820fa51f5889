"""The digits MLP as most scripts are written: no autolr in it, its own ``StepLR`` stepped per
epoch, its validation loss printed. autolr tunes it as it is:

    autolr tune examples/plain_digits.py --metric val_loss --seed-arg --seed --trials 12
    autolr run examples/plain_digits.py        # once more, with the winner

(``--metric``: the LR is set through torch's optimizer hooks before every optimizer step, the
metric read from the printed ``val_loss 0.1234``; the study's first run is this script as it
is, its own schedule the baseline to beat.)
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits
from torch import nn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    features, labels = load_digits(return_X_y=True)
    x = torch.tensor(features / 16.0, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    cut = int(0.8 * len(x))
    x_train, y_train = x[order[:cut]], y[order[:cut]]
    x_val, y_val = x[order[cut:]], y[order[cut:]]
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.3)
    for epoch in range(args.epochs):
        model.train()
        for idx in torch.randperm(len(x_train)).split(args.batch_size):
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
        print(f"epoch {epoch + 1}/{args.epochs}  val_loss {val_loss:.4f}  accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
