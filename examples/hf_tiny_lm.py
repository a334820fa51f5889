"""A tiny GPT-2 language model, character level, trained with the Hugging Face Trainer.

Nothing is downloaded: the model is built from a ``GPT2Config`` (2 layers, 32 dimensions,
2 heads) and the "tokenizer" is the set of characters of the short text shipped below; the first
90% of the text trains, the last 10% evaluates, in windows of ``--seq-len`` characters. The
Trainer runs ``--max-steps`` optimizer steps (or ``--epochs`` epochs), evaluates after every
epoch (or every ``--eval-steps`` steps), saves no checkpoint and reports to nothing; a run takes
seconds on a CPU. It prints one line per evaluation and, last, ``final eval_loss <value>``.

The autolr part is one callback, ``AutolrCallback(metric="eval_loss")``, and the Trainer's seed
from ``autolr.seed``: under ``autolr tune`` the Trainer follows each trial's schedule over its
``max_steps`` (whatever ``--lr-scheduler-type`` says) and reports ``eval_loss`` after each
evaluation; run plainly it keeps its own scheduler (linear decay by default), or follows the
schedule in ``AUTOLR_SCHEDULE``. The four autolr lines are marked.

Run plainly::

    python examples/hf_tiny_lm.py --max-steps 60
    AUTOLR_SCHEDULE=studies/hf_tiny_lm/best_schedule.json AUTOLR_SEED=<seed> \\
        python examples/hf_tiny_lm.py --max-steps 60

Tune (needs ``pip install 'autolr[transformers]'``)::

    autolr tune examples/hf_tiny_lm.py --trials 6 -- --max-steps 60
"""

from __future__ import annotations

import argparse
import tempfile
from typing import Any

import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

import autolr  # autolr (1/4)
from autolr.integrations.transformers import AutolrCallback  # autolr (2/4)

EVAL_FRACTION = 0.1

TEXT = """\
The river starts as a thin line of water under the snow, and for most of the year nobody sees
it at all. In spring the snow gives way, the line becomes a stream, and the stream finds the
lowest path down the valley, turning wherever a stone is harder than the ground around it.

Farmers on the lower slopes read the river the way sailors read the sky. When the water runs
clear and quiet they plant early; when it runs brown and loud they wait a week, because the
brown water means the snow is melting fast and the nights will still be cold.

The old mill stands where the valley narrows. Its wheel has not turned for forty years, but
the channel that fed it is still there, lined with flat stones that someone laid by hand. In
a dry summer children walk along the channel and count the stones, and nobody agrees on the
number twice.

Below the mill the river slows down and grows wide. Here it carries fine sand instead of
gravel, and the sand settles on the inside of every bend, so that each bend moves a little
further from where it was the year before. The maps of the valley are redrawn every few
decades, and each new map shows the river in a slightly different place.

A learning rate is a little like the slope of that valley. Too steep, and the water rushes
past every hollow without filling it; too flat, and it pools in the first hollow it finds.
The usual recipe is to start steep, let the water find its way, and flatten the slope near
the end so that it settles into the lowest ground it has reached.

At the mouth the river meets the sea in a wide fan of channels. Birds feed on the mud flats at
low tide, and the fishermen leave before dawn, when the water is calm and the wind has not
yet turned. By noon the tide comes back, the channels fill, and the river is gone again,
mixed into the grey water of the bay.
"""


class CharDataset(torch.utils.data.Dataset):
    """Windows of ``seq_len`` character ids (every ``seq_len // 2``), as causal-LM examples:
    ``labels`` are the inputs, which the model shifts by one itself."""

    def __init__(self, ids: torch.Tensor, seq_len: int) -> None:
        stride = max(1, seq_len // 2)
        self.windows = [ids[i : i + seq_len] for i in range(0, len(ids) - seq_len + 1, stride)]

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        window = self.windows[index]
        return {"input_ids": window, "labels": window}


class PrintEvaluation(TrainerCallback):
    """Prints one line per evaluation: the step, ``eval_loss`` and the LR of the next step."""

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None,
                    **kwargs: Any) -> None:
        lr = kwargs["optimizer"].param_groups[0]["lr"]
        print(f"step {state.global_step}/{state.max_steps}  epoch {state.epoch:.2f}  "
              f"eval_loss {metrics['eval_loss']:.4f}  lr {lr:.6g}", flush=True)


def datasets(seq_len: int) -> tuple[CharDataset, CharDataset, int]:
    """The train and evaluation windows of :data:`TEXT` and the vocabulary size."""
    chars = sorted(set(TEXT))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in TEXT], dtype=torch.long)
    cut = int(len(ids) * (1 - EVAL_FRACTION))
    return CharDataset(ids[:cut], seq_len), CharDataset(ids[cut:], seq_len), len(chars)


def build_trainer(args: argparse.Namespace, output_dir: str,
                  metric: str = "eval_loss") -> tuple[Trainer, AutolrCallback]:
    """The model, the data and a Trainer with :class:`AutolrCallback` (returned too)."""
    seed = autolr.seed(default=args.seed)  # autolr (3/4): the trial's seed under tune
    set_seed(seed)
    train_set, eval_set, vocab = datasets(args.seq_len)
    config = GPT2Config(vocab_size=vocab, n_positions=args.seq_len, n_embd=args.n_embd,
                        n_layer=args.n_layer, n_head=args.n_head, resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config)
    model.loss_type = "ForCausalLM"  # the class name does not say it: say it, and no warning
    training_args = TrainingArguments(
        output_dir=output_dir,
        max_steps=args.max_steps,
        num_train_epochs=args.epochs,
        learning_rate=args.lr,
        lr_scheduler_type=args.lr_scheduler_type,
        warmup_steps=args.warmup_steps,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=2 * args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        eval_strategy="steps" if args.eval_steps else "epoch",
        eval_steps=args.eval_steps or None,
        logging_strategy="steps" if args.logging_steps else "no",
        logging_steps=args.logging_steps or 500,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=args.cpu,
        dataloader_pin_memory=False,
        seed=seed,
    )
    callback = AutolrCallback(metric=metric)
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        callbacks=[PrintEvaluation(), callback],  # autolr (4/4)
    )
    trainer.remove_callback(PrinterCallback)  # our own line per evaluation instead of dicts
    return trainer, callback


def train(args: argparse.Namespace) -> float:
    """Train in a temporary output folder; return the last evaluation's ``eval_loss``."""
    with tempfile.TemporaryDirectory(prefix="hf_tiny_lm-") as output_dir:
        trainer, callback = build_trainer(args, output_dir)
        trainer.train()
    value = callback.reports[-1][1] if callback.reports else float("nan")
    print(f"final eval_loss {value!r}", flush=True)
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-steps", type=int, default=-1,
                        help="optimizer steps (default: --epochs epochs)")
    parser.add_argument("--epochs", type=float, default=3.0,
                        help="epochs, when --max-steps is not given")
    parser.add_argument("--lr", type=float, default=3e-3, help="the script's own (peak) LR")
    parser.add_argument("--lr-scheduler-type", default="linear",
                        help="the Trainer's scheduler, used by plain runs (default linear)")
    parser.add_argument("--warmup-steps", type=int, default=0,
                        help="the Trainer's warmup steps, used by plain runs")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--grad-accum", type=int, default=1,
                        help="gradient accumulation steps (batches per optimizer step)")
    parser.add_argument("--eval-steps", type=int, default=0,
                        help="evaluate every N steps (default: after every epoch)")
    parser.add_argument("--logging-steps", type=int, default=0,
                        help="log the loss and LR every N steps (default: no logging)")
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--n-embd", type=int, default=32)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-head", type=int, default=2)
    parser.add_argument("--cpu", action="store_true", help="train on the CPU even with a GPU")
    parser.add_argument("--seed", type=int, default=0,
                        help="the seed of plain runs (AUTOLR_SEED overrides it; under autolr "
                             "tune each trial has its own)")
    args = parser.parse_args(argv)
    if args.max_steps == 0 or args.max_steps < -1:
        parser.error(f"--max-steps must be at least 1, got {args.max_steps}")
    for name in ("batch_size", "grad_accum", "seq_len", "n_embd", "n_layer", "n_head"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, "
                         f"got {getattr(args, name)}")
    if args.n_embd % args.n_head:
        parser.error(f"--n-embd ({args.n_embd}) must be divisible by --n-head ({args.n_head})")
    return args


def main(argv: list[str] | None = None) -> float:
    return train(parse_args(argv))


if __name__ == "__main__":
    main()
