"""GPU checks of ``autolr tune --metric``'s optimizer hooks (:mod:`autolr.capture.step_hooks`).

``python benchmarks/gpu_check_capture.py OUT.json`` on a machine with CUDA checks that every
step's LR equals the schedule's for optimizers whose LR is a tensor (Adam with
``capturable=True``, fused AdamW), that a step a ``GradScaler`` skips on an fp16 overflow is not
counted, and records the card's name. The hooks' cost per step is measured apart, by
``benchmarks/capture_overhead.py --device cuda``.
"""

from __future__ import annotations

import json
import sys

import torch

from autolr import ScheduleSpec
from autolr.trials.captured import applied_run

SPEC = ScheduleSpec("cosine", lr=0.01, total_steps=30, warmup_steps=5)


def reference(spec: ScheduleSpec) -> list[float]:
    return [spec.lr * spec.multiplier(i) for i in range(spec.total_steps)]


def recording(cls: type) -> type:
    class Recording(cls):  # type: ignore[misc, valid-type]
        seen: list[float]

        def step(self, closure=None):
            self.seen.append(float(self.param_groups[0]["lr"]))
            return super().step(closure)

    return Recording


def tensor_lr(name: str, make) -> dict:
    model = torch.nn.Linear(16, 4).cuda()
    optimizer = make(model.parameters())
    optimizer.seen = []
    x = torch.randn(8, 16, device="cuda")

    def script() -> None:
        for _ in range(30):
            optimizer.zero_grad()
            model(x).square().mean().backward()
            optimizer.step()

    hooks = applied_run(SPEC, script)
    want = reference(SPEC)
    error = max(abs(a - b) for a, b in zip(optimizer.seen, want, strict=True))
    return {"check": name, "steps": hooks.steps, "max_lr_error": error,
            "ok": hooks.steps == 30 and error < 1e-7}


def grad_scaler() -> dict:
    model = torch.nn.Linear(16, 4).cuda()
    optimizer = recording(torch.optim.SGD)(model.parameters(), lr=0.1)
    optimizer.seen = []
    scaler = torch.amp.GradScaler("cuda")
    x = torch.randn(8, 16, device="cuda")

    def script() -> None:
        for i in range(12):
            optimizer.zero_grad()
            with torch.autocast("cuda", dtype=torch.float16):
                loss = model(x).square().mean() * (float("inf") if i in (3, 7) else 1.0)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()

    hooks = applied_run(ScheduleSpec("linear", lr=0.1, total_steps=10), script)
    return {"check": "GradScaler fp16, 2 overflows in 12", "steps": hooks.steps,
            "ok": hooks.steps == 10 and len(optimizer.seen) == 10}


def main() -> None:
    out = sys.argv[1]
    checks = [
        tensor_lr("Adam capturable, tensor lr", lambda p: recording(torch.optim.Adam)(
            p, lr=torch.tensor(0.01, device="cuda"), capturable=True)),
        tensor_lr("AdamW fused", lambda p: recording(torch.optim.AdamW)(p, lr=0.01, fused=True)),
        grad_scaler(),
    ]
    result = {"card": torch.cuda.get_device_name(), "torch": torch.__version__, "checks": checks}
    print(json.dumps(result, indent=1))
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()
