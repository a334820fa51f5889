"""A small causal transformer language model, character level, on Python's own source code.

The text is every Python install's standard library: ``argparse.py``, ``difflib.py`` and
``textwrap.py`` from the folder of the ``os`` module, concatenated in that order (or any text
file given with ``--text``). The first 90% trains, the last 10% validates. The model is
``nn.TransformerEncoder`` (pre-norm, GELU) under a causal mask with learned position embeddings,
trained with AdamW and gradient clipping. The scheduler steps once per optimizer step, so
``total_steps = --steps``. Every ``--eval-every`` steps (and at the end) the validation loss in
nats per character is reported to autolr. The three autolr lines are marked.

The schedule of a plain run: transformers trained at a constant LR from step 0 tend to diverge
early or to need a timid LR, so this script passes ``default=``: a plain run warms up linearly
over the first 5% of the steps, then follows a cosine decay to zero from ``--lr`` — the usual
recipe. ``AUTOLR_SCHEDULE=file.json`` replaces it, and under ``autolr tune`` the study's trial
schedules replace it (the study searches warmup lengths itself; its baselines are the script's
LR held constant, cosine and linear decay).

Run plainly::

    python examples/char_transformer.py                   # GPU: a minute or two
    AUTOLR_SCHEDULE=studies/char_transformer/best_schedule.json python examples/char_transformer.py

Tune::

    autolr tune examples/char_transformer.py --trials 30 -- --steps 1000

A CPU smoke run (a few seconds)::

    python examples/char_transformer.py --steps 20 --eval-every 10 --d-model 32 --layers 1 \\
        --seq-len 32 --batch-size 8
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import torch
from torch import nn

import autolr  # autolr (1/3)

STDLIB_FILES = ("argparse.py", "difflib.py", "textwrap.py")
WARMUP_FRACTION = 0.05
VAL_FRACTION = 0.1


def load_text(path: str | None = None) -> str:
    """The training text: ``path``, or the stdlib files above. Installs that ship no ``.py``
    sources fall back to the docstrings of the built-in functions and types."""
    if path is not None:
        return Path(path).read_text(encoding="utf-8")
    folder = Path(os.path.dirname(os.__file__))
    parts = [(folder / name).read_text(encoding="utf-8") for name in STDLIB_FILES
             if (folder / name).is_file()]
    if parts:
        return "\n".join(parts)
    import builtins

    docs = (getattr(builtins, name).__doc__ for name in sorted(dir(builtins)))
    return "\n\n".join(doc for doc in docs if doc)


class Vocabulary:
    """Characters <-> integer ids (every character of the text, sorted)."""

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)


class CharTransformer(nn.Module):
    """Embeddings, a causal pre-norm ``nn.TransformerEncoder``, a final norm and a linear head."""

    def __init__(self, vocab: int, d_model: int, layers: int, heads: int, seq_len: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.Parameter(torch.zeros(seq_len, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=4 * d_model, dropout=dropout, activation="gelu",
            batch_first=True, norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.normal_(self.position, std=0.02)
        self.register_buffer(
            "causal_mask", nn.Transformer.generate_square_subsequent_mask(seq_len),
            persistent=False,
        )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        length = ids.shape[1]
        x = self.embed(ids) + self.position[:length]
        mask = self.causal_mask[:length, :length]
        x = self.blocks(x, mask=mask, is_causal=True)
        return self.head(self.norm(x))


def batch(data: torch.Tensor, starts: torch.Tensor, seq_len: int) -> tuple[torch.Tensor, ...]:
    """Inputs and next-character targets for windows starting at ``starts``."""
    offsets = torch.arange(seq_len + 1, device=data.device)
    windows = data[starts.unsqueeze(1) + offsets]
    return windows[:, :-1], windows[:, 1:]


def evaluate(model: CharTransformer, val: torch.Tensor, starts: torch.Tensor, seq_len: int,
             batch_size: int, amp: bool) -> float:
    """Mean cross-entropy (nats per character) over fixed validation windows."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad(), torch.autocast(val.device.type, dtype=torch.bfloat16, enabled=amp):
        for chunk in starts.split(batch_size):
            inputs, targets = batch(val, chunk, seq_len)
            logits = model(inputs).float()
            total += nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum"
            ).item()
            count += targets.numel()
    model.train()
    return total / count


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train(args: argparse.Namespace) -> float:
    """Train and return the last validation loss; reports it after every evaluation."""
    if args.seed is not None:
        torch.manual_seed(args.seed)
    device = pick_device(args.device)
    amp = device.type == "cuda" and torch.cuda.is_bf16_supported()
    text = load_text(args.text)
    vocab = Vocabulary(text)
    data = vocab.encode(text).to(device)
    cut = int(len(data) * (1 - VAL_FRACTION))
    train_data, val_data = data[:cut], data[cut:]
    if len(val_data) <= args.seq_len + 1 or len(train_data) <= args.seq_len + 1:
        raise SystemExit(f"The text ({len(text)} characters) is too short for --seq-len "
                         f"{args.seq_len}: use a longer --text or a shorter --seq-len.")
    # The same validation windows in every run: evenly spaced over the validation text.
    n_val = args.eval_batches * args.batch_size
    val_starts = torch.linspace(0, len(val_data) - args.seq_len - 2, n_val, device=device).long()

    model = CharTransformer(len(vocab), args.d_model, args.layers, args.heads, args.seq_len,
                            args.dropout).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95),
                                  weight_decay=args.weight_decay)
    plain_default = autolr.ScheduleSpec(
        "cosine", lr=args.lr, total_steps=args.steps,
        warmup_steps=min(round(WARMUP_FRACTION * args.steps), args.steps - 1),
    )
    scheduler = autolr.scheduler(  # autolr (2/3)
        optimizer, total_steps=args.steps, default=plain_default
    )
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{len(text):,} characters, vocabulary {len(vocab)}, {n_params:,} parameters, "
          f"device {device}", flush=True)

    val_loss = float("nan")
    model.train()
    for step in range(1, args.steps + 1):
        starts = torch.randint(0, len(train_data) - args.seq_len - 1, (args.batch_size,),
                               device=device)
        inputs, targets = batch(train_data, starts, args.seq_len)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(inputs)
        loss = nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1)
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        scheduler.step()
        if step % args.eval_every == 0 or step == args.steps:
            val_loss = evaluate(model, val_data, val_starts, args.seq_len, args.batch_size, amp)
            autolr.report(val_loss, step=step)  # autolr (3/3)
            lr = optimizer.param_groups[0]["lr"]
            print(f"step {step}/{args.steps}  train_loss {loss.item():.4f}  "
                  f"val_loss {val_loss:.4f} nats/char ({val_loss / math.log(2):.3f} bits)  "
                  f"lr {lr:.6g}", flush=True)
    if args.sample:
        print(repr(generate(model, vocab, text[:args.seq_len // 2], args.sample)))
    return val_loss


@torch.no_grad()
def generate(model: CharTransformer, vocab: Vocabulary, prompt: str, length: int) -> str:
    """Sample ``length`` characters after ``prompt`` (temperature 1)."""
    model.eval()
    device = model.position.device
    ids = vocab.encode(prompt).to(device).unsqueeze(0)
    for _ in range(length):
        logits = model(ids[:, -model.seq_len:])[:, -1].float()
        next_id = torch.multinomial(torch.softmax(logits, dim=-1), 1)
        ids = torch.cat([ids, next_id], dim=1)
    return vocab.decode(ids[0].tolist())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps")
    parser.add_argument("--eval-every", type=int, default=200, help="steps between evaluations")
    parser.add_argument("--eval-batches", type=int, default=8,
                        help="validation windows, in batches")
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="the script's own (peak) LR")
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--clip", type=float, default=1.0, help="gradient norm clipping")
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda:1…")
    parser.add_argument("--text", default=None, help="train on this UTF-8 text file instead")
    parser.add_argument("--sample", type=int, default=0,
                        help="print this many sampled characters at the end")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed torch (under autolr tune each trial is seeded already)")
    args = parser.parse_args(argv)
    for name in ("steps", "eval_every", "eval_batches", "d_model", "layers", "heads", "seq_len",
                 "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, "
                         f"got {getattr(args, name)}")
    if args.d_model % args.heads:
        parser.error(f"--d-model ({args.d_model}) must be divisible by --heads ({args.heads})")
    return args


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
