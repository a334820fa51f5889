"""A LightningModule MLP on scikit-learn's handwritten digits: seconds per run on a CPU.

The module configures its own scheduler (a StepLR, x0.7 every epoch) in ``configure_optimizers``.
Run plainly (``python examples/lightning_digits.py --epochs 3``) it trains with that StepLR; with
``AUTOLR_SCHEDULE=studies/lightning_digits/best_schedule.json`` it follows the tuned schedule; and
``autolr tune examples/lightning_digits.py --trials 6 -- --epochs 3`` tunes it, each trial's
schedule taking the StepLR's place. The two autolr lines are marked (``autolr.seed`` keeps each
trial's seed); the last lines printed name the scheduler that ran and give the final
``val_loss`` and LR, exactly, for a re-run to compare.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from typing import Any

import lightning as L
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import autolr
from autolr.integrations.lightning import AutolrCallback  # autolr (1/2)

STEP_GAMMA = 0.7  # the module's own StepLR: the LR times this after every epoch


def load_data(seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """The 1,797 digits split 80/20 with a fixed permutation; pixels scaled to [0, 1]."""
    features, labels = load_digits(return_X_y=True)
    x = torch.tensor(features / 16.0, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    cut = int(0.8 * len(x))
    return TensorDataset(x[:cut], y[:cut]), TensorDataset(x[cut:], y[cut:])


class DigitsMLP(L.LightningModule):
    """A two-layer MLP trained with SGD and a per-epoch StepLR of its own."""

    def __init__(self, lr: float = 0.05, hidden: int = 64) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> Any:
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_accuracy", (logits.argmax(1) == y).float().mean())

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        metrics = self.trainer.callback_metrics
        print(f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}  "
              f"val_loss {metrics['val_loss']:.4f}  accuracy {metrics['val_accuracy']:.3f}  "
              f"lr {self.optimizers().param_groups[0]['lr']:.6g}")

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=STEP_GAMMA)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler,
                                                         "interval": "epoch"}}


def train(
    epochs: int = 8,
    lr: float = 0.05,
    batch_size: int = 64,
    hidden: int = 64,
    seed: int = 0,
) -> float:
    """Fit and return the final validation loss; prints what the last lines of the run show."""
    L.seed_everything(seed, verbose=False)
    train_set, val_set = load_data()
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=len(val_set))
    model = DigitsMLP(lr=lr, hidden=hidden)
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        callbacks=[AutolrCallback(monitor="val_loss")],  # autolr (2/2)
        enable_progress_bar=False,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(model, train_loader, val_loader)
    val_loss = float(trainer.callback_metrics["val_loss"])
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    print(f"scheduler {type(scheduler).__name__}  optimizer steps {trainer.global_step} of "
          f"{trainer.estimated_stepping_batches}")
    print(f"final val_loss {val_loss!r}  lr {trainer.optimizers[0].param_groups[0]['lr']!r}")
    return val_loss


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.05, help="the script's own (peak) LR")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0,
                        help="the seed of a plain run (AUTOLR_SEED overrides it; under autolr "
                             "tune each trial has its own seed)")
    args = parser.parse_args(argv)
    # Quiet: Lightning's start-up notes (devices, "max_epochs reached"), its advice to use more
    # DataLoader workers (they only slow a dataset this small) and a deprecation inside it.
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    seed = autolr.seed(default=args.seed)  # the trial's seed under autolr tune
    train(args.epochs, args.lr, args.batch_size, args.hidden, seed)


if __name__ == "__main__":
    main()
