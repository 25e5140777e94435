"""The benchmark's arithmetic (FLOPs per image, accuracy over time), and that its step-alone
timer runs on a saved tutorial model. Its speed figures are measured by running it, never
by a test."""

import csv
import json
import os
import pickle
import re
import sys

import numpy as np

from conftest import ROOT, readme_text, results_text
from test_prose_numbers import prose

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import benchmark  # noqa: E402


def test_flops_per_image_follow_the_layer_shapes(tutorial_run):
    import keras

    model = keras.models.load_model(os.path.join(tutorial_run[1], "cifar10_cnn.keras"))
    # 2 FLOPs per multiply-add: output height x width x kernel area x inputs x filters.
    convolutions = [
        2 * 32 * 32 * 9 * 3 * 32,
        2 * 30 * 30 * 9 * 32 * 32,
        2 * 15 * 15 * 9 * 32 * 64,
        2 * 13 * 13 * 9 * 64 * 64,
    ]
    dense = [2 * 2304 * 512, 2 * 512 * 10]
    forward = sum(convolutions) + sum(dense)
    assert benchmark.training_flops_per_image(model) == (forward, 3 * forward - convolutions[0])
    assert round(forward / 1e6, 1) == 41.5


def test_accuracy_over_time_finds_when_each_target_was_first_reached():
    history = [
        {"epoch": "1", "epoch_seconds": "60", "val_accuracy": "0.65"},
        {"epoch": "2", "epoch_seconds": "60", "val_accuracy": "0.76"},
        {"epoch": "3", "epoch_seconds": "30", "val_accuracy": "0.74"},
        {"epoch": "4", "epoch_seconds": "30", "val_accuracy": "0.80"},
    ]
    rows, reached = benchmark.accuracy_over_time(history)
    assert [elapsed for _, elapsed, _ in rows] == [60, 120, 150, 180]
    assert reached == {0.70: (2, 120), 0.75: (2, 120), 0.80: (4, 180)}


def test_step_alone_timer_runs_on_a_saved_tutorial_model(tutorial_run):
    speed = benchmark.bare_step_speed(
        os.path.join(tutorial_run[1], "cifar10_cnn.keras"), batch_size=16, train_images=64
    )
    assert 0 < speed < 1e7


def test_every_lever_changes_the_tutorial_where_it_says(tmp_path):
    """Each variant of benchmarks/levers.py still finds its lines in the tutorial, once, and
    the changed tutorial is valid Python; an edit to those lines must update the variants."""
    import levers

    baseline = levers.variant_source("baseline")
    for name in levers.VARIANTS:
        source = levers.variant_source(name)
        compile(source, name, "exec")
        assert (source == baseline) == (name == "baseline"), name
    both = levers.variant_source("ema+erasing")
    assert "use_ema=True" in both and "RandomErasing" in both


def test_levers_reads_the_tutorials_validation_pictures(tmp_path):
    """The last 10% of the training pictures, as in the tutorial."""
    import levers

    from cifar_files import write_cifar10

    write_cifar10(str(tmp_path), per_batch=20, test_size=10)
    x_val, y_val = levers.validation_set(str(tmp_path))
    assert x_val.shape == (10, 32, 32, 3) and y_val.shape == (10,)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_5", "rb") as batch_file:
        last_batch = pickle.load(batch_file, encoding="bytes")
    assert list(y_val) == list(last_batch[b"labels"][-10:])
    rows = np.frombuffer(last_batch[b"data"], np.uint8).reshape(-1, 3, 32, 32)[-10:]
    assert (x_val == rows.transpose(0, 2, 3, 1)).all()


def lever_results():
    """{(epochs, variant): (last validation accuracy, mirrored)} from the summary tables that
    benchmarks/levers.py appended to benchmarks/RESULTS.md (the later section wins)."""
    text = open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), encoding="utf-8").read()
    results = {}
    for section in text.split("\n## ")[1:]:
        command = re.search(r"levers\.py [^`]*--epochs (\d+)", section)
        rows = re.findall(r"^\| ([\w.+-]+) \| ([\d.]+)% \| ([\d.]+)% \| \d+ min", section, re.M)
        for name, last, mirrored in rows if command else []:
            results[int(command.group(1)), name] = (float(last), float(mirrored))
    return results


def default_runs():
    """{epochs: (test, validation, mirrored)} from benchmarks/RESULTS.md's table of the
    tutorial's committed default runs."""
    text = open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), encoding="utf-8").read()
    section = re.search(r"\n## [^\n]*the committed default runs.*?(?:\n## |\Z)", text, re.S)
    rows = re.findall(
        r"^\| (\d+) \| `[^`]+` \| ([\d.]+)% \| ([\d.]+)% / ([\d.]+)% \|", section[0], re.M
    )
    return {int(epochs): tuple(map(float, figures)) for epochs, *figures in rows}


def test_results_md_lists_the_committed_run_among_the_default_runs():
    with open(os.path.join(ROOT, "outputs", "metrics.json")) as metrics_file:
        metrics = json.load(metrics_file)
    figures = ("test_accuracy", "validation_accuracy", "validation_accuracy_mirrored")
    committed = tuple(round(metrics[name] * 100, 2) for name in figures)
    assert default_runs()[metrics["epochs_completed"]] == committed
    assert len(default_runs()) >= 2  # and the one before it, which the prose compares with


def quoted_in_prose(pattern, what):
    match = re.search(pattern, prose())
    assert match, f"the prose no longer quotes {what}"
    return match.groups()


def test_label_smoothing_effect_in_the_prose_is_the_measured_one():
    epochs, batch_size, with_it, without = quoted_in_prose(
        r"(\d+)-epoch trial with batches of (\d+).*? ended at ([\d.]+)% with label smoothing "
        r"and ([\d.]+)% without",
        "what label smoothing gained",
    )
    results = lever_results()
    assert results[int(epochs), f"batch-{batch_size}"][0] == float(with_it)
    assert results[int(epochs), f"batch-{batch_size}+smoothing-0"][0] == float(without)
    assert (
        f"Label smoothing, measured by validation accuracy over {epochs} epochs with "
        f"batches of {batch_size}: {with_it}% with it, {without}% without." in results_text()
    )


def test_short_schedule_figures_in_the_prose_are_the_measured_ones():
    epochs, smaller, small_batch, default, default_batch = quoted_in_prose(
        r"over (\d+) epochs, validation accuracy ended at ([\d.]+)% with `--batch-size (\d+)` "
        r"and ([\d.]+)% with (\d+)",
        "the short schedule's figures",
    )
    results = lever_results()
    assert results[int(epochs), f"batch-{small_batch}"][0] == float(smaller)
    assert results[int(epochs), "baseline"][0] == float(default)
    assert f"batch_size = {default_batch}\n" in open(os.path.join(ROOT, "train_cifar10.py")).read()


def test_learning_rate_figures_in_the_results_summary_are_the_measured_ones():
    quoted = re.search(
        r"over 30 epochs with batches of 128: ([\d.]+)% at 0.001 \(the default recipe[^)]*\), "
        r"([\d.]+)% at",
        results_text(),
    )
    assert quoted, "RESULTS.md's summary no longer quotes the learning-rate A/B"
    assert float(quoted.group(1)) == default_runs()[30][1]  # peak 0.001, batches of 128
    assert float(quoted.group(2)) == lever_results()[30, "lr-0.0005"][0]


def test_the_readmes_first_run_accuracy_is_the_measured_one():
    readme = readme_text()
    quoted = re.search(
        r"train_cifar10\.py --epochs (\d+)`\. .*? reached ([\d.]+)% test accuracy", readme
    )
    assert quoted, "README.md no longer quotes the first run's accuracy"
    results = open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), encoding="utf-8").read()
    section = re.search(
        r"## [^\n]*the README's first run, `--epochs (\d+)`.*?(?:\n## |\Z)", results, re.S
    )
    assert section and section.group(1) == quoted.group(1), "RESULTS.md has no such run"
    row = re.search(r"\| CIFAR-10 \(JPEG copy\) \| [^|]+ \| ([\d.]+)% \|", section.group(0))
    assert row and row.group(1) == quoted.group(2)
    in_prose = re.search(
        r"`--epochs (\d+)` ended at ([\d.]+)% validation accuracy, while the (\d+)-epoch run "
        r"stood at ([\d.]+)% after its third epoch",
        prose(),
    )
    assert in_prose, "the prose no longer compares a short run with a long one"
    validation = re.search(r"\| CIFAR-10 \(JPEG copy\) \| ([\d.]+)% /", section.group(0))
    assert in_prose.groups()[:2] == (quoted.group(1), validation.group(1))
    with open(os.path.join(ROOT, "outputs", "history.csv")) as history_file:
        rows = list(csv.DictReader(history_file))
    third = rows[int(quoted.group(1)) - 1]
    assert int(in_prose.group(3)) == len(rows)  # the committed run
    assert float(in_prose.group(4)) == round(float(third["val_accuracy"]) * 100, 2)
    timed = re.findall(
        r"## [^\n]*the README's first run, `--epochs \d+`, with this change's script.*?"
        r"\| CIFAR-10 \(JPEG copy\) \| ([\d.]+)% / [^|]+ \| ([\d.]+)% \|.*? \| (\d+ min \d+ s) \|",
        results,
        re.S,
    )
    took = re.search(r"it took (\d+ min \d+ s) from start to finish and reached", readme)
    assert timed and took and took.group(1) == timed[-1][2], (timed, took)
    assert timed[-1][:2] == (validation.group(1), quoted.group(2))  # the same figures again


def test_shorter_default_schedule_figures_in_the_prose_are_the_measured_ones():
    epochs, last, mirrored, longer_last, longer_mirrored, longer = quoted_in_prose(
        r"over (\d+) epochs validation accuracy ended at ([\d.]+)%\s+\(([\d.]+)% mirrored\),"
        r"\s+against ([\d.]+)%\s+\(([\d.]+)%\)\s+over (\d+)",
        "what the default recipe reached over fewer epochs",
    )
    assert default_runs()[int(epochs)][1:] == (float(last), float(mirrored))
    assert default_runs()[int(longer)][1:] == (float(longer_last), float(longer_mirrored))
    summary = re.search(
        r"(\d+) epochs instead of (\d+), ([\d.]+)% validation accuracy against\s+([\d.]+)%",
        results_text(),
    )
    assert summary, "RESULTS.md's summary no longer quotes the longer schedule's gain"
    longer, shorter, longer_figure, shorter_figure = summary.groups()
    assert default_runs()[int(longer)][1] == float(longer_figure)
    assert default_runs()[int(shorter)][1] == float(shorter_figure)


def test_the_readmes_short_run_figures_are_the_measured_ones():
    quoted = re.search(
        r"`--epochs (\d+) --batch-size (\d+)` is the best short recipe found .*?: ([\d.]+)% test "
        r"accuracy \(([\d.]+)% / ([\d.]+)% validation",
        readme_text(),
    )
    assert quoted, "README.md no longer quotes the short run"
    results = open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), encoding="utf-8").read()
    section = re.search(r"\n## [^\n]*the README's short run.*?(?:\n## |\Z)", results, re.S)[0]
    command = re.search(r"--epochs (\d+) --batch-size (\d+)`", section)
    row = re.search(r"\| CIFAR-10 \(JPEG copy\) \| ([\d.]+)% \| ([\d.]+)% / ([\d.]+)% \|", section)
    assert command.groups() == quoted.groups()[:2]
    assert row.groups() == quoted.groups()[2:]
    epoch = float(re.search(r"alone, took ([\d.]+) s each", section).group(1))
    minutes = re.search(r"Its (\d+) epochs take about (\d+)\s+minutes on the EPYC", readme_text())
    assert minutes and int(minutes.group(1)) == int(command.group(1))
    assert int(minutes.group(2)) == round(int(command.group(1)) * epoch / 60)
    best = max(
        (figures for (epochs, name), figures in lever_results().items() if epochs == 15),
        key=lambda figures: figures[1],  # chosen by mirrored validation accuracy
    )
    assert lever_results()[15, f"batch-{quoted.group(2)}"] == best


def test_the_readmes_backend_speeds_are_the_measured_ones():
    results = open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), encoding="utf-8").read()
    section = re.search(r"\n## [^\n]*the three backends.*?(?:\n## |\Z)", results, re.S)[0]
    header = re.search(r"^\| round \| (.*) \|$", section, re.M).group(1).split(" | ")
    means = re.search(r"^\| mean \| (.*) \|$", section, re.M).group(1).split(" | ")
    measured = dict(zip(header, (int(mean.replace(",", "")) for mean in means)))
    quoted = re.search(
        r"training images per second: (\w+) (\d+), (\w+) (\d+), (\w+) (\d+)", readme_text()
    )
    assert quoted, "README.md no longer quotes the backends' speeds"
    pairs = dict(zip(quoted.groups()[::2], map(int, quoted.groups()[1::2])))
    assert pairs == measured
