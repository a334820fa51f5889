"""autolr's Python API: tune a training function, look at the result, export it, use it.

``train()`` below is the digits MLP of ``digits_mlp.py`` (same folder): a zero-argument callable
whose body calls ``autolr.scheduler`` and ``autolr.report``. ``autolr.tune`` runs it as trials in
this process and keeps every trial in ``studies/api.db``, so running this script again resumes
the study toward ``--trials`` instead of starting over. Then the best schedule is exported as a
standalone file that needs only torch, and used without autolr in a final training run.

    python examples/api.py --trials 20
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

import torch
from torch import nn

import autolr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digits_mlp  # the example next to this file

EPOCHS = 6
BATCH_SIZE = 64
LR = 0.05


def train() -> float:
    """One training run; returns (and reports to autolr) the validation loss."""
    return digits_mlp.train(epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE, hidden=64)


def retrain_with(make_scheduler, metric_driven: bool, seed: int) -> float:
    """The same training, with an LR scheduler made by ``make_scheduler(optimizer)`` and no
    autolr in the loop: what a user does with the tuned schedule. Returns the validation loss.
    With the best trial's seed it repeats that trial exactly (same data order, same init).

    Every family steps once per batch, except plateau (``metric_driven``), which needs the
    validation loss: autolr's scheduler takes it as ``step(val_loss)`` in place of the epoch's
    last step; the exported file's ``ReduceLROnPlateau`` steps only with it, once per epoch.
    """
    torch.manual_seed(seed)
    x_train, y_train, x_val, y_val = digits_mlp.load_data()
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    scheduler = make_scheduler(optimizer)
    per_epoch_only = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    batches = (len(x_train) + BATCH_SIZE - 1) // BATCH_SIZE
    val_loss = float("nan")
    for _ in range(EPOCHS):
        order = torch.randperm(len(x_train))
        for i in range(batches):
            idx = order[i * BATCH_SIZE : (i + 1) * BATCH_SIZE]
            loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if i < batches - 1 and not per_epoch_only:
                scheduler.step()
        with torch.no_grad():
            val_loss = nn.functional.cross_entropy(model(x_val), y_val).item()
        if metric_driven:
            scheduler.step(val_loss)
        else:
            scheduler.step()
    return val_loss


def import_file(path: Path):
    """Import a Python file as a module (here: the exported schedule)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20,
                        help="the study's total of finished trials (resumes toward it)")
    parser.add_argument("--storage", default="sqlite:///studies/api.db")
    parser.add_argument("--study", default="api", help="the study's name in the storage")
    parser.add_argument("--out", default="studies/api/best_schedule.py",
                        help="where to export the best schedule")
    args = parser.parse_args(argv)

    result = autolr.tune(
        train, n_trials=args.trials, storage=args.storage, study_name=args.study, seed=0
    )
    counts = result.counts()
    print(f"study {args.study!r}: {counts['complete']} complete, {counts['pruned']} pruned, "
          f"{counts['failed']} failed")
    spec = result.best_spec
    print("best schedule:", spec)
    print(f"best validation loss: {result.best_value:.4f}")
    print("LR range:", result.lr_edge or "the best LR lies inside the range searched")

    path = result.export(args.out)
    result.export(str(Path(args.out).with_suffix(".json")), format="json")
    print(f"exported {path} (and {path.with_suffix('.json')}, for AUTOLR_SCHEDULE)")

    # Use the result without autolr in the training loop: build the scheduler from the spec ...
    seed = result.best_trial.user_attrs["seed"]  # each trial's seed is recorded
    from_spec = retrain_with(spec.build, spec.metric_driven, seed)
    # ... or from the exported file, which needs only torch.
    exported = import_file(path)
    from_file = retrain_with(exported.build_scheduler, spec.metric_driven, seed)
    print(f"retrained with the best trial's seed {seed}: spec.build(optimizer) gives val_loss "
          f"{from_spec:.4f}, {path.name}'s build_scheduler(optimizer) {from_file:.4f} "
          f"(the study measured {result.best_value:.4f})")


if __name__ == "__main__":
    main()
