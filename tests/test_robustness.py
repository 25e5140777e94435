"""A run survives being stopped, and bad input is refused before any training."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cifar_files import batch_record, python2_pickle, write_cifar10
from conftest import SCRIPT, describe, run_tutorial, trusted

HERE = os.path.dirname(os.path.abspath(__file__))
FINAL_OUTPUTS = [
    "samples.png",
    "history.csv",
    "accuracy.png",
    "loss.png",
    "metrics.json",
    "confusion_matrix.png",
    "mistakes.png",
    "first_layer_maps.png",
    "cifar10_cnn.keras",
    "test_picture.png",
    "predictions.png",
]
MARK = "train_cifar10_outputs.txt"  # the tutorial's mark on a folder it owns
AFTER_A_RUN = sorted(FINAL_OUTPUTS + [MARK])  # what a new output folder holds after a run


def history_rows(output_dir):
    with open(os.path.join(output_dir, "history.csv")) as history_file:
        return list(csv.DictReader(history_file))


def test_same_seed_same_metrics_and_every_output_written_atomically(tutorial_run, tmp_path):
    """A CPU run with the flags of the shared run logs the same numbers; it is audited for how
    it writes: in the output folder itself only the mark is written, and every output arrives
    there by a rename from in_progress/, where the run kept it. It runs with both its outputs
    closed (as pythonw starts it, from a desktop), and finishes all the same."""
    _, shared_dir, data_dir = tutorial_run
    audit_log = tmp_path / "audit.json"
    flags = ["--data-dir", data_dir, "--output-dir", tmp_path / "audited", "--epochs", 3]
    flags += ["--batch-size", 64, "--seed", 1]  # as tutorial_run
    process = subprocess.run(
        [sys.executable, os.path.join(HERE, "audit_writes.py"), audit_log, SCRIPT,
         *trusted(flags)],
        timeout=600, preexec_fn=lambda: os.closerange(1, 3),
    )  # fmt: skip
    assert process.returncode == 0  # where a traceback would go, nobody can see
    histories = [
        [{key: value for key, value in row.items() if "seconds" not in key}
         for row in history_rows(output_dir)]
        for output_dir in (tmp_path / "audited", shared_dir)
    ]  # fmt: skip
    assert histories[0] == histories[1]
    assert len(histories[0]) == 3

    events = json.loads(audit_log.read_text())
    audited_dir = str(tmp_path / "audited")
    written = {
        os.path.basename(path)
        for kind, path, *_ in events
        if kind == "write" and os.path.dirname(path) == audited_dir
    }
    assert written == {MARK}, f"written in place in the output folder: {written}"
    renamed = {
        os.path.basename(target): source
        for kind, *paths in events
        if kind == "rename"
        for source, target in [paths]
        if os.path.dirname(target) == audited_dir
    }
    assert sorted(renamed) == sorted(FINAL_OUTPUTS)
    for name, source in renamed.items():
        assert source == os.path.join(audited_dir, "in_progress", name), (name, source)
    assert sorted(os.listdir(audited_dir)) == AFTER_A_RUN


# ---- Bad places to write: one line, before any training. ----


def test_output_folder_that_is_a_file_is_refused_at_once(tiny_cifar10, tmp_path):
    (tmp_path / "outputs").write_text("not a folder")
    process = run_tutorial("--data-dir", tiny_cifar10, "--output-dir", tmp_path / "outputs")
    assert process.returncode == 1, describe(process)
    assert process.stderr.strip().splitlines() == [
        f"error: [Errno 17] File exists: '{tmp_path / 'outputs'}'"
    ], process.stderr
    assert "Epoch 1" not in process.stdout


def test_output_folder_without_write_permission_is_refused_at_once(tiny_cifar10, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root ignores permission bits, but not the immutable attribute
        if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode:
            pytest.skip("running as root on a file system without chattr +i")
        unlock = ["chattr", "-i", str(locked)]
    else:
        locked.chmod(0o500)
        unlock = ["chmod", "700", str(locked)]
    try:
        process = run_tutorial("--data-dir", tiny_cifar10, "--output-dir", locked)
    finally:
        subprocess.run(unlock, check=True)
    assert process.returncode == 1, describe(process)
    message = process.stderr.strip().splitlines()[-1]
    assert message.startswith("error: [Errno ") and str(locked) in message, message
    assert "Epoch 1" not in process.stdout


def test_few_pictures_a_class_missing_and_an_ascii_console(tmp_path):
    """Ten training pictures (fewer than the 48 of the sample grid) and no test cat: the run
    finishes, and metrics.json says null, not NaN, for the class it cannot score. Its console
    is ASCII, and its output folder's name is not: said in the characters the console has."""
    folder = write_cifar10(str(tmp_path / "data"), per_batch=2, test_size=20, seed=3)
    pictures = np.zeros((18, 32, 32, 3), np.uint8)
    labels = [label for label in range(10) if label != 3] * 2
    (tmp_path / "data" / "cifar-10-batches-py" / "test_batch").write_bytes(
        python2_pickle(batch_record(pictures, labels, "test_batch"))
    )
    output_dir = tmp_path / "résultats"
    process = run_tutorial(
        "--data-dir", folder, "--output-dir", output_dir, "--epochs", 1,
        env={"PYTHONIOENCODING": "ascii"},
    )  # fmt: skip
    assert process.returncode == 0, describe(process)
    assert "Traceback" not in process.stderr, process.stderr
    assert "x_train: (9, 32, 32, 3)" in process.stdout
    assert "r\\xe9sultats" in process.stdout
    assert sorted(os.listdir(output_dir)) == AFTER_A_RUN

    def refuse(constant):
        raise ValueError(f"{constant} in metrics.json")

    metrics = json.loads((output_dir / "metrics.json").read_text(), parse_constant=refuse)
    assert metrics["per_class_accuracy"]["cat"] is None
    assert metrics["per_class_accuracy"]["dog"] is not None
