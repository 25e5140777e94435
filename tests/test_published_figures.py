"""The figures that README.md and the tutorial's prose quote are those of the committed run."""

import csv
import json
import os
import re

from conftest import ROOT, SCRIPT
from test_prose_numbers import prose

OUTPUTS = os.path.join(ROOT, "outputs")


def committed_metrics():
    with open(os.path.join(OUTPUTS, "metrics.json")) as metrics_file:
        return json.load(metrics_file)


def test_committed_run_is_complete():
    metrics = committed_metrics()
    with open(os.path.join(OUTPUTS, "history.csv")) as history_file:
        rows = list(csv.DictReader(history_file))
    assert len(rows) == metrics["epochs_completed"]
    assert abs(float(rows[-1]["val_accuracy"]) - metrics["test_accuracy"]) < 0.005
    for name in ("accuracy.png", "loss.png", "samples.png", "predictions.png"):
        assert os.path.getsize(os.path.join(OUTPUTS, name)) > 10_000


def test_readme_table_matches_the_committed_run():
    metrics = committed_metrics()
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    row = re.search(
        r"\| CIFAR-10 \(JPEG copy\) \| ([\d.]+)% \| (\d+) \| ([\d,]+) s \(([\d.]+) min\) "
        r"\| ([\d,]+) \|",
        readme,
    )
    assert row, "README.md has no results row"
    accuracy, epochs, seconds, minutes, images_per_second = row.groups()
    assert float(accuracy) == round(metrics["test_accuracy"] * 100, 2)
    assert int(epochs) == metrics["epochs_completed"]
    assert int(seconds.replace(",", "")) == round(metrics["train_seconds"])
    assert float(minutes) == round(metrics["train_seconds"] / 60, 1)
    assert int(images_per_second.replace(",", "")) == round(metrics["images_per_second"])


def test_tutorial_prose_matches_the_committed_run():
    metrics = committed_metrics()
    script = open(SCRIPT, encoding="utf-8").read()
    epochs = int(re.search(r"^epochs = (\d+)", script, re.MULTILINE).group(1))
    assert epochs == metrics["epochs_completed"]
    text = prose()
    settings = re.search(
        r"(\d+) epochs take about (\d+) minutes on a 2-core processor and "
        r"reach about (\d+)% test accuracy",
        text,
    )
    assert settings, "the settings prose no longer quotes the run"
    assert int(settings.group(1)) == epochs
    assert int(settings.group(2)) == round(metrics["train_seconds"] / 60)
    assert int(settings.group(3)) == round(metrics["test_accuracy"] * 100)
    expect = re.search(r"With the default settings expect about (\d+)%", text)
    assert int(expect.group(1)) == round(metrics["test_accuracy"] * 100)


def script_setting(name):
    script = open(SCRIPT, encoding="utf-8").read()
    return re.search(rf"^{name} = (\S+)", script, re.MULTILINE).group(1)


def test_committed_run_used_the_default_settings():
    metrics = committed_metrics()
    assert metrics["batch_size"] == int(script_setting("batch_size"))
    assert metrics["learning_rate"] == float(script_setting("learning_rate"))
    assert metrics["seed"] == int(script_setting("seed"))


def test_readme_settings_table_matches_the_script():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    for flag, name in [
        ("--epochs N", "epochs"),
        ("--batch-size N", "batch_size"),
        ("--learning-rate X", "learning_rate"),
        ("--seed N", "seed"),
    ]:
        row = re.search(rf"\| `{flag}` \| ([^|]+) \|", readme)
        assert row and row.group(1).strip() == script_setting(name), (flag, row)
