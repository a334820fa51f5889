"""What ``autolr tune --metric`` costs a training step: the digits example's step (its MLP,
batch 64, SGD with momentum) timed bare and under the optimizer step hooks applying a schedule
(:mod:`autolr.capture.step_hooks`), in alternating rounds so that drift hits both sides alike.

``python benchmarks/capture_overhead.py [--device cuda] [--rounds 15] [--steps 400]`` prints
the median time per step of each side, the overhead as a fraction of a step, and the spread
over rounds; ``--json FILE`` writes them too. The goal (issue: under 2% of a step) is judged on
the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from autolr import ScheduleSpec
from autolr.trials.captured import applied_run


def make_step(device: str):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = torch.randn(64, 64, device=device)
    y = torch.randint(0, 10, (64,), device=device)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return step


def timed(step, steps: int, device: str, hooked: bool) -> float:
    """Seconds per step over ``steps`` steps (after a short warm-up)."""
    spec = ScheduleSpec("cosine", lr=0.05, total_steps=steps + 20, warmup_steps=10)

    def loop() -> None:
        for _ in range(20):
            step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        loop.seconds = (time.perf_counter() - start) / steps  # type: ignore[attr-defined]

    if hooked:
        applied_run(spec, loop)
    else:
        loop()
    return loop.seconds  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    step = make_step(args.device)
    bare, hooked = [], []
    for _ in range(args.rounds):
        bare.append(timed(step, args.steps, args.device, False))
        hooked.append(timed(step, args.steps, args.device, True))
    ratios = [h / b - 1 for b, h in zip(bare, hooked, strict=True)]
    result = {
        "device": args.device if args.device == "cpu" else torch.cuda.get_device_name(),
        "threads": torch.get_num_threads(), "rounds": args.rounds, "steps": args.steps,
        "bare_us": statistics.median(bare) * 1e6, "hooked_us": statistics.median(hooked) * 1e6,
        "overhead": statistics.median(hooked) / statistics.median(bare) - 1,
        "overhead_rounds": [min(ratios), statistics.median(ratios), max(ratios)],
    }
    print(f"{result['device']} ({result['threads']} threads): bare {result['bare_us']:.1f} us "
          f"a step, hooked {result['hooked_us']:.1f} us: overhead {result['overhead']:+.2%} of "
          f"a step (rounds: min {min(ratios):+.2%}, median {statistics.median(ratios):+.2%}, "
          f"max {max(ratios):+.2%})")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
