"""``--metric`` on a Lightning module and a Hugging Face Trainer that never use autolr's
callbacks: each trial's LR follows its schedule though the framework steps its own scheduler,
and the metric is read from what the framework prints."""

from __future__ import annotations

import textwrap

import optuna
import pytest

from tests.capture.test_cli_metric import assert_curves_follow_their_schedules, in_process

LIGHTNING = textwrap.dedent(
    """
    import argparse, torch, lightning as L
    from torch.utils.data import DataLoader, TensorDataset
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    L.seed_everything(args.seed, verbose=False)
    x = torch.randn(96, 8)
    y = x @ torch.randn(8, 1)
    data = DataLoader(TensorDataset(x, y), batch_size=16)

    class Regressor(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(8, 1)

        def training_step(self, batch, _):
            return torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])

        def validation_step(self, batch, _):
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch[0]), batch[1]))

        def on_validation_epoch_end(self):
            value = self.trainer.callback_metrics["val_loss"]
            print(f"epoch {self.current_epoch} val_loss={value:.6f}")

        def configure_optimizers(self):
            optimizer = torch.optim.Adam(self.parameters(), lr=0.02)
            return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)]

    trainer = L.Trainer(max_epochs=4, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0)
    trainer.fit(Regressor(), data, data)
    """
)

TRAINER = textwrap.dedent(
    """
    import argparse, torch
    from transformers import Trainer, TrainingArguments
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(96, 8)
    y = x @ torch.randn(8, 1)
    rows = [{"x": a, "labels": b} for a, b in zip(x, y)]

    class Regressor(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(8, 1)

        def forward(self, x, labels=None):
            out = self.net(x)
            return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}

    training = TrainingArguments(
        output_dir="hf_out", per_device_train_batch_size=16, num_train_epochs=3,
        learning_rate=0.02, eval_strategy="epoch", logging_strategy="epoch", save_strategy="no",
        report_to=[], use_cpu=True, seed=args.seed, disable_tqdm=True,
    )
    trainer = Trainer(model=Regressor(), args=training, train_dataset=rows, eval_dataset=rows)
    trainer.train()
    """
)


@pytest.mark.parametrize(("name", "script", "metric", "steps"), [
    ("lightning", LIGHTNING, "val_loss", 24),
    ("transformers", TRAINER, "eval_loss", 18),
])
def test_a_framework_script_without_autolr_is_tuned(tmp_path, name, script, metric, steps):
    pytest.importorskip(name)
    (tmp_path / "train.py").write_text(script)
    ran = in_process("tune", "train.py", "--metric", metric, "--trials", "5", "--confirm", "0",
                     "--seed-arg", "--seed", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"The script as it is: {steps} optimizer steps" in ran.stdout
    study = optuna.load_study(study_name="train", storage=f"sqlite:///{tmp_path}/studies/train.db")
    assert assert_curves_follow_their_schedules(study) >= 4
    assert all(t.user_attrs.get("steps") == steps for t in study.trials if t.value is not None)
