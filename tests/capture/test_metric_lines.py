"""Reading the metric from a line of output: every documented format, the regex, bad input."""

from __future__ import annotations

import pytest

from autolr.capture.metric_lines import MetricReader, closest_names, named_numbers
from autolr.errors import ConfigError


@pytest.mark.parametrize("line", [
    "val_loss=0.12", "epoch 3 val loss: 0.12", "{'epoch': 3, 'val_loss': 0.12}",
    "val_loss 0.12", "val_loss=tensor(0.12)", 'json {"val_loss": 0.12, "acc": 0.9}',
    "VAL_LOSS = 0.12", "{'val_loss': '0.12', 'epoch': '1'}",
    "100%|####| 10/10 [00:01, loss=1.3, val-loss=0.12]",
])
def test_each_format_gives_the_value(line):
    assert MetricReader("val_loss").value(line) == pytest.approx(0.12)


@pytest.mark.parametrize("line", [
    "train_val_loss=0.5", "val_loss_ema=0.5", "val_loss", "loss=0.5", "val_lossy 0.5",
])
def test_other_metrics_and_bare_names_are_not_read(line):
    assert MetricReader("val_loss").value(line) is None


def test_the_last_occurrence_in_a_line_counts_and_numbers_keep_their_exponent():
    reader = MetricReader("acc")
    assert reader.value("acc=0.5 ... acc=0.75") == 0.75
    assert reader.value("acc: 1.5e-3") == pytest.approx(1.5e-3)
    assert reader.value("acc: nan") != reader.value("acc: nan")  # a NaN is read as one


def test_a_regex_with_one_group_reads_anything_else():
    reader = MetricReader(regex=r"Top-1 error \(%\): ([\d.]+)")
    assert reader.value("Top-1 error (%): 23.5 after epoch 4") == 23.5


@pytest.mark.parametrize(("regex", "said"), [
    (r"val_loss=\S+", "exactly one group"),
    (r"(a)=(\d+)", "exactly one group"),
    (r"val_loss=(\d+", "valid regular expression"),
])
def test_a_bad_regex_is_refused_with_the_rule_and_the_value(regex, said):
    with pytest.raises(ConfigError) as info:
        MetricReader(regex=regex)
    message = str(info.value)
    assert said in message and repr(regex) in message and "--metric-regex" in message


def test_an_empty_metric_name_is_refused():
    with pytest.raises(ConfigError, match="must name the metric"):
        MetricReader("  ")


def test_names_followed_by_numbers_closest_first():
    seen = {}
    for line in ["epoch 1 train_loss=0.9 valid_loss: 0.8", "{'lr': 0.1, 'accuracy': '0.5'}"]:
        for name in named_numbers(line):
            seen[name] = seen.get(name, 0) + 1
    assert set(seen) == {"train_loss", "valid_loss", "lr", "accuracy"}
    assert closest_names("val_loss", seen)[0] == "valid_loss"
