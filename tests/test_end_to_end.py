"""The whole tutorial, run as a subprocess on tiny data in the official format."""

import csv
import json
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
from matplotlib import image as mpimg

from conftest import ROOT, clock_lines
from test_robustness import AFTER_A_RUN, FINAL_OUTPUTS

PLOTS = [name for name in FINAL_OUTPUTS if name.endswith(".png") and name != "test_picture.png"]


def test_every_output_is_written_and_nothing_else(tutorial_run):
    process, output_dir, _ = tutorial_run
    assert sorted(os.listdir(output_dir)) == AFTER_A_RUN
    assert "Traceback" not in process.stderr


@pytest.mark.parametrize("name", PLOTS)
def test_plots_decode_and_are_not_blank(tutorial_run, name):
    picture = mpimg.imread(os.path.join(tutorial_run[1], name))
    assert picture.ndim == 3 and picture.shape[0] > 200 and picture.shape[1] > 300
    assert picture[..., :3].std() > 0.05, f"{name} looks blank"


def test_history_has_one_row_per_epoch(tutorial_run):
    with open(os.path.join(tutorial_run[1], "history.csv")) as history_file:
        rows = list(csv.DictReader(history_file))
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    for row in rows:
        for column in ("accuracy", "loss", "val_accuracy", "val_loss", "epoch_seconds"):
            assert np.isfinite(float(row[column])), (column, row)
        assert 0 <= float(row["accuracy"]) <= 1 and float(row["loss"]) > 0


def test_each_epoch_has_as_many_batches_as_one_pass_needs(tutorial_run):
    # 270 training pictures (300 less 30 for validation) in batches of 64 need 5 batches.
    progress_lines = re.findall(r"^(\d+)/(\d+) - ", tutorial_run[0].stdout, re.MULTILINE)
    assert progress_lines == [("5", "5")] * 3, tutorial_run[0].stdout[-2000:]


def test_metrics_json_has_sane_values(tutorial_run):
    process, output_dir, _ = tutorial_run
    with open(os.path.join(output_dir, "metrics.json")) as metrics_file:
        metrics = json.load(metrics_file)
    assert 0 <= metrics["test_accuracy"] <= 1
    assert 0 < metrics["test_loss"] < 20
    assert metrics["epochs_completed"] == 3
    assert metrics["batch_size"] == 64 and metrics["seed"] == 1
    assert 0 < metrics["train_seconds"] < 600
    assert metrics["images_per_second"] > 0
    assert metrics["versions"]["keras"].startswith("3.")
    assert sorted(metrics["versions"]) == ["keras", "numpy", "python", "tensorflow"]
    assert metrics["backend"] == "tensorflow"
    assert metrics["data_source"] == str(tutorial_run[2])  # as typed, not made absolute
    assert sorted(metrics["per_class_accuracy"]) == sorted(
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    )
    # The printed test accuracy is the one saved.
    assert f"Test accuracy: {metrics['test_accuracy']:.2%}" in process.stdout


def test_saved_model_takes_raw_pixels_and_returns_probabilities(tutorial_run):
    import keras

    model = keras.models.load_model(os.path.join(tutorial_run[1], "cifar10_cnn.keras"))
    pictures = np.random.default_rng(0).integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    probabilities = np.asarray(model.predict(pictures, verbose=0))
    assert probabilities.shape == (5, 10)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)


def test_confusion_matrix_counts_every_test_picture_once(tutorial_run):
    with open(os.path.join(tutorial_run[1], "metrics.json")) as metrics_file:
        metrics = json.load(metrics_file)
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.shape == (10, 10)
    assert confusion.sum() == 100  # the tiny test set
    assert (confusion.sum(axis=1) == 10).all()  # ten test pictures of each class
    assert confusion.trace() / confusion.sum() == pytest.approx(metrics["test_accuracy"])
    for index, accuracy in enumerate(metrics["per_class_accuracy"].values()):
        assert accuracy == pytest.approx(confusion[index, index] / 10)


def test_validation_accuracy_is_the_last_epochs(tutorial_run):
    with open(os.path.join(tutorial_run[1], "history.csv")) as history_file:
        last_row = list(csv.DictReader(history_file))[-1]
    with open(os.path.join(tutorial_run[1], "metrics.json")) as metrics_file:
        metrics = json.load(metrics_file)
    assert metrics["validation_accuracy"] == pytest.approx(float(last_row["val_accuracy"]))


def test_test_figures_average_each_picture_with_its_mirror_image(tutorial_run):
    """metrics.json's test accuracy and loss are those of the saved model's probabilities for
    each test picture averaged with those for its mirror image, not of one view alone."""
    import keras

    process, output_dir, data_dir = tutorial_run
    with open(os.path.join(data_dir, "cifar-10-batches-py", "test_batch"), "rb") as batch_file:
        record = pickle.load(batch_file, encoding="bytes")  # the tests' own file
    pictures = np.asarray(record[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    pictures = pictures.transpose(0, 2, 3, 1)
    targets = keras.utils.to_categorical(record[b"labels"], 10)
    model = keras.models.load_model(os.path.join(output_dir, "cifar10_cnn.keras"))
    one_way = np.asarray(model.predict(pictures, verbose=0))
    both_ways = (one_way + np.asarray(model.predict(pictures[:, :, ::-1], verbose=0))) / 2
    with open(os.path.join(output_dir, "metrics.json")) as metrics_file:
        metrics = json.load(metrics_file)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)
    both_ways_loss, one_way_loss = float(loss(targets, both_ways)), float(loss(targets, one_way))
    assert both_ways_loss != one_way_loss  # after 3 tiny epochs they differ, if only a little
    assert abs(metrics["test_loss"] - both_ways_loss) < abs(metrics["test_loss"] - one_way_loss)
    labels = np.array(record[b"labels"])
    assert metrics["test_accuracy"] == pytest.approx(np.mean(both_ways.argmax(axis=1) == labels))
    assert 0 <= metrics["validation_accuracy_mirrored"] <= 1
    assert f"{metrics['validation_accuracy_mirrored']:.2%} both ways" in process.stdout


def test_the_readmes_own_photo_snippet_gives_the_tutorials_answer(tutorial_run, tmp_path):
    """The README's lines for a photo of one's own, run on the saved model and test picture."""
    process, output_dir, _ = tutorial_run
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    snippet = re.search(r"own photos\n.*?```python\n(.*?)```", readme, re.DOTALL).group(1)
    for path, there in [
        ("outputs/cifar10_cnn.keras", output_dir / "cifar10_cnn.keras"),
        ("my_photo.jpg", output_dir / "test_picture.png"),
    ]:
        assert snippet.count(f'"{path}"') == 1, path
        snippet = snippet.replace(f'"{path}"', repr(str(there)))
    ran = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    lines = process.stdout.splitlines()
    tutorials = lines[lines.index("test_picture.png") + 1 :][:3]
    answers = [line.split(":") for line in ran.stdout.splitlines()]
    assert [name for name, _ in answers] == [line.split(":")[0] for line in tutorials]
    for (_, percent), line in zip(answers, tutorials):
        assert abs(float(percent.strip(" %")) - float(line.split(":")[1].strip(" %"))) <= 0.15


def test_the_test_picture_file_holds_the_test_pictures_own_pixels(tutorial_run):
    """Step 10 writes test picture 0 to a PNG: the same pixels, not stretched to 0-255."""
    _, output_dir, data_dir = tutorial_run
    with open(os.path.join(data_dir, "cifar-10-batches-py", "test_batch"), "rb") as batch_file:
        batch = pickle.load(batch_file, encoding="bytes")  # written by the tests themselves
    first = np.asarray(batch[b"data"][0], dtype=np.uint8).reshape(3, 32, 32).transpose(1, 2, 0)
    assert first.min() > 0 or first.max() < 255, "a picture that fills 0-255 proves nothing"
    written = np.round(mpimg.imread(os.path.join(output_dir, "test_picture.png")) * 255)
    assert np.array_equal(written[..., :3].astype(np.uint8), first)


def test_the_clock_says_after_each_epoch_how_long_so_far_and_how_long_to_go(tutorial_run):
    process, output_dir, _ = tutorial_run
    with open(os.path.join(output_dir, "history.csv")) as history_file:
        seconds = [float(row["epoch_seconds"]) for row in csv.DictReader(history_file)]
    clock = clock_lines(process.stdout)
    assert [line[:2] for line in clock] == [(1, 3), (2, 3), (3, 3)], process.stdout[-3000:]
    for (done, total, so_far, to_go, _), epoch_line in zip(
        clock, re.findall(r"^\d+/\d+ - .*\n(Clock: .*)$", process.stdout, re.MULTILINE)
    ):
        assert epoch_line.startswith(f"Clock: {done} of")  # right after Keras' epoch line
        assert abs(so_far - sum(seconds[:done])) <= 2 + 0.1 * sum(seconds[:done])
        assert abs(to_go - so_far / done * (total - done)) <= 1.5
    assert clock[-1][3] == 0
