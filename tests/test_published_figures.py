"""The figures that README.md and the tutorial's prose quote are those of the committed run."""

import csv
import json
import os
import re
import subprocess

import pytest
from test_benchmark import quoted_in_prose

from cifar_files import CLASS_NAMES
from conftest import ROOT, SCRIPT, readme_text, results_text
from test_prose_numbers import prose
from test_robustness import AFTER_A_RUN, FINAL_OUTPUTS, MARK

OUTPUTS = os.path.join(ROOT, "outputs")


def committed_metrics():
    with open(os.path.join(OUTPUTS, "metrics.json")) as metrics_file:
        return json.load(metrics_file)


def committed_history():
    with open(os.path.join(OUTPUTS, "history.csv")) as history_file:
        return list(csv.DictReader(history_file))


def test_committed_run_is_complete():
    metrics = committed_metrics()
    rows = committed_history()
    assert [int(row["epoch"]) for row in rows] == list(range(1, metrics["epochs_completed"] + 1))
    assert float(rows[-1]["val_accuracy"]) == metrics["validation_accuracy"]
    for name in FINAL_OUTPUTS:
        if name.endswith(".png"):
            assert os.path.getsize(os.path.join(OUTPUTS, name)) > 1_000, name
    confusion = metrics["confusion_matrix"]
    assert sum(map(sum, confusion)) == 10_000
    assert sum(confusion[i][i] for i in range(10)) / 10_000 == pytest.approx(
        metrics["test_accuracy"]
    )


def test_committed_metadata_names_no_machine_folder():
    metrics = committed_metrics()
    assert metrics["data_source"] in ("keras.datasets (download)", "cifar-10-python.tar.gz")
    assert sorted(metrics["versions"]) == ["keras", "numpy", "python", "tensorflow"]
    text = open(os.path.join(OUTPUTS, "metrics.json")).read()
    assert not re.search(r"/(root|home|tmp|Users|work)/", text)


def test_readme_table_matches_the_committed_run():
    metrics = committed_metrics()
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    row = re.search(
        r"\| CIFAR-10 \(JPEG copy\) \| ([\d.]+)% \| ([\d.]+)% / ([\d.]+)% \| (\d+) \|", readme
    )
    assert row, "README.md has no results row"
    accuracy, validation, mirrored, epochs = row.groups()
    assert float(accuracy) == round(metrics["test_accuracy"] * 100, 2)
    assert float(validation) == round(metrics["validation_accuracy"] * 100, 2)
    assert float(mirrored) == round(metrics["validation_accuracy_mirrored"] * 100, 2)
    assert int(epochs) == metrics["epochs_completed"]


def timed_default_run():
    """(training seconds, training images/s) of the 40-epoch default run that had the two
    cores to itself, from RESULTS.md's table of the committed default runs."""
    text = open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), encoding="utf-8").read()
    section = re.search(r"\n## [^\n]*the committed default runs.*?(?:\n## |\Z)", text, re.S)[0]
    row = re.search(r"^\| 40 \| .*\| ([\d,]+) s \(([\d.]+) min\) \| ([\d,]+) \|$", section, re.M)
    seconds, minutes, speed = (float(group.replace(",", "")) for group in row.groups())
    assert minutes == round(seconds / 60, 1)
    return seconds, speed


def test_tutorial_prose_matches_the_committed_run():
    metrics = committed_metrics()
    script = open(SCRIPT, encoding="utf-8").read()
    epochs = int(re.search(r"^epochs = (\d+)", script, re.MULTILINE).group(1))
    assert epochs == metrics["epochs_completed"]
    text = prose()
    settings = re.search(
        r"(\d+) epochs took about (\d+) minutes (?:\([^)]*\)\s+)?and reached about (\d+)% "
        r"test accuracy",
        text,
    )
    assert settings, "the settings prose no longer quotes the run"
    assert int(settings.group(1)) == epochs
    assert int(settings.group(2)) == round(timed_default_run()[0] / 60)
    assert int(settings.group(3)) == round(metrics["test_accuracy"] * 100)
    expect = re.search(r"With the default settings expect about (\d+)%", text)
    assert int(expect.group(1)) == round(metrics["test_accuracy"] * 100)
    steps = re.search(r"(\d+) epochs still make over ([\d,]+) adjustments", text)
    updates = epochs * -(-45_000 // metrics["batch_size"])  # 45,000 training pictures
    assert int(steps.group(1)) == epochs
    assert 0 <= updates - int(steps.group(2).replace(",", "")) < 1_000
    batches = re.search(r"(\d+) batches from the ([\d,]+) training pictures in each epoch", text)
    assert int(batches.group(2).replace(",", "")) == 45_000
    assert int(batches.group(1)) == -(-45_000 // metrics["batch_size"])


def test_validation_curve_in_the_prose_matches_the_committed_run():
    rows = committed_history()
    quoted = re.search(
        r"validation accuracy was ([\d.]+)% after 1 epoch, ([\d.]+)% after 5, ([\d.]+)% "
        r"after 10 and ([\d.]+)% after (\d+)",
        prose(),
    )
    assert quoted, "the prose no longer quotes the validation curve"
    assert int(quoted.group(5)) == len(rows)
    for text, epoch in zip(quoted.groups(), (1, 5, 10, len(rows))):
        assert float(text) == round(float(rows[epoch - 1]["val_accuracy"]) * 100, 1), epoch
    ended = re.search(r"the committed run's ended at ([\d.]+) on the validation pictures", prose())
    assert ended and float(ended.group(1)) == round(float(rows[-1]["val_loss"]), 2)
    stops_near = re.search(r"it stops near (\d+)% rather than higher", prose())
    assert int(stops_near.group(1)) == round(float(rows[-1]["val_accuracy"]) * 100)


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


def test_epochs_where_validation_beat_training_match_the_committed_run():
    rows = committed_history()
    higher = sum(float(row["val_accuracy"]) > float(row["accuracy"]) for row in rows)
    quoted = re.search(r"it was higher after (\d+) of the (\d+) epochs", prose())
    assert quoted, "the prose no longer says how often validation beat training"
    assert (int(quoted.group(1)), int(quoted.group(2))) == (higher, len(rows))


def test_mirrored_averaging_gain_in_the_prose_matches_the_committed_run():
    metrics = committed_metrics()
    quoted = re.search(r"raised validation accuracy from ([\d.]+)% to ([\d.]+)%", prose())
    assert quoted, "the prose no longer quotes what mirrored averaging gained"
    assert float(quoted.group(1)) == round(metrics["validation_accuracy"] * 100, 2)
    assert float(quoted.group(2)) == round(metrics["validation_accuracy_mirrored"] * 100, 2)


def test_readme_quotes_the_committed_mirrored_validation_accuracy():
    metrics = committed_metrics()
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    quoted = re.search(r"that gave ([\d.]+)% against ([\d.]+)% for the pictures\s+alone", readme)
    assert quoted, "README.md no longer quotes the mirrored validation accuracy"
    assert float(quoted.group(1)) == round(metrics["validation_accuracy_mirrored"] * 100, 2)
    assert float(quoted.group(2)) == round(metrics["validation_accuracy"] * 100, 2)


def test_time_per_epoch_is_the_timed_default_runs():
    """The README's time table, RESULTS.md's summary and the prose quote the 40-epoch run
    that had the machine to itself."""
    seconds, speed = timed_default_run()
    epoch_seconds = round(seconds / 40)
    quoted = re.search(
        r"an epoch took about (\d+) s there \(([\d,]+) training images/s", results_text()
    )
    assert quoted, "RESULTS.md's summary no longer quotes the time per epoch"
    assert (int(quoted.group(1)), int(quoted.group(2).replace(",", ""))) == (epoch_seconds, speed)
    row = re.search(
        r"\| 2-core AMD EPYC, no AVX-512 or bfloat16 \| `float32` \| (\d+) s \| (\d+) min "
        r"\| measured \|",
        readme_text(),
    )
    assert row, "README.md's time table has no measured EPYC row"
    assert (int(row.group(1)), int(row.group(2))) == (epoch_seconds, round(seconds / 60))
    in_prose = re.search(r"\(about (\d+) seconds an epoch\)", prose())
    assert in_prose and int(in_prose.group(1)) == epoch_seconds


CLASS_WORDS = {"cars": "automobile", "frogs": "frog", "trucks": "truck", "ships": "ship"}
CLASS_WORDS |= {"cats": "cat", "birds": "bird", "dogs": "dog"}


def test_best_and_worst_classes_in_the_prose_are_the_committed_runs():
    per_class = committed_metrics()["per_class_accuracy"]
    ranking = sorted(per_class, key=per_class.get, reverse=True)
    quoted = re.search(
        r"run (\w+), (\w+), (\w+) and (\w+) were recognised best; (\w+) and (\w+) worst, and "
        r"(\w+) and (\w+),[^,]*, were confused with each other most",
        prose(),
    )
    assert quoted, "the prose no longer names the best and worst classes"
    names = [CLASS_WORDS[word.lower()] for word in quoted.groups()]
    assert set(names[:4]) == set(ranking[:4]) and set(names[4:6]) == set(ranking[-2:])
    confusion = committed_metrics()["confusion_matrix"]
    mistakes = {(true, said): confusion[true][said] for true in range(10) for said in range(10)}
    true, said = max((pair for pair in mistakes if pair[0] != pair[1]), key=mistakes.get)
    assert {names[6], names[7]} == {CLASS_NAMES[true], CLASS_NAMES[said]}
    readme = readme_text()
    counts = re.search(r"\((\d+) test cats called dogs, (\d+) dogs called cats\)", readme)
    cat, dog = CLASS_NAMES.index("cat"), CLASS_NAMES.index("dog")
    assert counts and counts.groups() == (str(confusion[cat][dog]), str(confusion[dog][cat]))


def test_epochs_where_validation_passed_each_mark_are_the_committed_runs():
    rows = committed_history()
    quoted = re.findall(r"(\d+)% after epoch (\d+)", readme_text())
    assert len(quoted) >= 3, "README.md no longer says when validation passed 70, 75, 80%"
    for mark, epoch in quoted:
        passed = [
            int(row["epoch"]) for row in rows if float(row["val_accuracy"]) * 100 >= int(mark)
        ]
        assert passed and passed[0] == int(epoch), mark


def test_the_early_dip_in_validation_accuracy_is_the_committed_runs():
    accuracy = [float(row["val_accuracy"]) * 100 for row in committed_history()]
    quoted = quoted_in_prose(
        r"it fell by (\d+) points at epoch (\d+)\s+and was back above its earlier best at "
        r"epoch (\d+)",
        "the early dip",
    )
    points, epoch, back = map(int, quoted)
    drops = [accuracy[i - 1] - accuracy[i] for i in range(1, len(accuracy))]
    assert drops.index(max(drops)) + 2 == epoch  # the largest drop, from epoch - 1 to epoch
    assert round(max(drops)) == points
    best_before = max(accuracy[: epoch - 1])
    assert back == next(
        e for e in range(epoch + 1, len(accuracy) + 1) if accuracy[e - 1] > best_before
    )


def test_the_committed_output_folder_is_marked_as_the_tutorials():
    """A fresh clone's outputs/ is not empty: without the mark a learner's first run would
    refuse it (test_own_files runs the tutorial into a copy of it)."""
    tracked = subprocess.run(
        ["git", "ls-files", "outputs"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert f"outputs/{MARK}" in tracked
    assert sorted(tracked) == sorted(f"outputs/{name}" for name in AFTER_A_RUN
                                     if name != "cifar10_cnn.keras")  # fmt: skip
