"""A run survives being stopped, and bad input is refused before any training."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from cifar_files import batch_record, python2_pickle, write_cifar10
from conftest import SCRIPT, describe, run_tutorial, start_tutorial

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


@pytest.fixture(scope="module")
def slow_data(tmp_path_factory):
    """2,000 training pictures: at batch 32 an epoch lasts seconds, long enough to interrupt."""
    return write_cifar10(
        str(tmp_path_factory.mktemp("slow_cifar10")), per_batch=400, test_size=200, seed=5
    )


def start_and_wait_for_second_epoch(slow_data, output_dir, log_dir):
    flags = ["--data-dir", slow_data, "--output-dir", output_dir, "--epochs", 3, "--batch-size", 32]
    process = start_tutorial(*flags, log_dir=log_dir)
    first_backup = os.path.join(output_dir, "in_progress", "backup-00001")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        second_epoch_began = "Epoch 2/3" in (log_dir / "stdout.txt").read_text()
        if second_epoch_began and os.path.exists(first_backup):
            return process, flags
        time.sleep(0.02)
    process.kill()
    pytest.fail("the first epoch was never backed up: " + open(log_dir / "stderr.txt").read())


def test_sigkill_in_second_epoch_then_same_command_resumes_at_epoch_2(slow_data, tmp_path):
    output_dir = tmp_path / "out"
    process, flags = start_and_wait_for_second_epoch(slow_data, output_dir, tmp_path)
    process.kill()  # SIGKILL: no chance to clean up, like a power cut
    process.wait()
    assert process.returncode == -signal.SIGKILL

    resumed = run_tutorial(*flags)
    assert resumed.returncode == 0, describe(resumed)
    assert "Resuming: 1 of 3 epochs are saved. Continuing with epoch 2." in resumed.stdout
    assert "Epoch 1/3" not in resumed.stdout and "Epoch 2/3" in resumed.stdout
    assert [int(row["epoch"]) for row in history_rows(output_dir)] == [1, 2, 3]
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 3
    assert not (output_dir / "in_progress").exists()


def test_rerun_after_a_finished_run_is_a_fresh_run(tiny_cifar10, tmp_path):
    flags = ["--data-dir", tiny_cifar10, "--output-dir", tmp_path, "--epochs", 1]
    for _ in range(2):  # the second run must not resume the finished first one
        process = run_tutorial(*flags)
        assert process.returncode == 0, describe(process)
        assert "Resuming" not in process.stdout and "Clock: 1 of 1 epochs done" in process.stdout
        assert [int(row["epoch"]) for row in history_rows(tmp_path)] == [1]
        assert not (tmp_path / "in_progress").exists()


def test_same_seed_same_metrics_and_every_output_written_atomically(tiny_cifar10, tmp_path):
    """Two CPU runs with the same flags log the same numbers; the first is audited for how
    it writes: nothing is written in the output folder itself, every output arrives there
    by a rename from in_progress/, where the run kept it."""
    histories = []
    for run in ("audited", "plain"):
        output_dir = tmp_path / run
        flags = [
            "--data-dir",
            tiny_cifar10,
            "--output-dir",
            output_dir,
            "--epochs",
            2,
            "--batch-size",
            32,
            "--seed",
            11,
            "--trust-data",
        ]
        if run == "audited":
            audit_log = tmp_path / "audit.json"
            process = subprocess.run(
                [
                    sys.executable,
                    os.path.join(HERE, "audit_writes.py"),
                    audit_log,
                    SCRIPT,
                    *map(str, flags),
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
        else:
            process = run_tutorial(*flags)
        assert process.returncode == 0, describe(process)
        histories.append(
            [
                {key: value for key, value in row.items() if "seconds" not in key}
                for row in history_rows(output_dir)
            ]
        )
    assert histories[0] == histories[1]
    assert len(histories[0]) == 2

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
    assert process.stderr.strip().splitlines()[-1] == (
        f"error: the output folder '{tmp_path / 'outputs'}' is a file, not a folder"
    )
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


def test_few_pictures_and_a_class_missing_from_the_test_set(tmp_path):
    """Ten training pictures (fewer than the 48 of the sample grid) and no test cat: the run
    finishes, and metrics.json says null, not NaN, for the class it cannot score."""
    folder = write_cifar10(str(tmp_path / "data"), per_batch=2, test_size=20, seed=3)
    pictures = np.zeros((18, 32, 32, 3), np.uint8)
    labels = [label for label in range(10) if label != 3] * 2
    (tmp_path / "data" / "cifar-10-batches-py" / "test_batch").write_bytes(
        python2_pickle(batch_record(pictures, labels, "test_batch"))
    )
    output_dir = tmp_path / "out"
    process = run_tutorial("--data-dir", folder, "--output-dir", output_dir, "--epochs", 1)
    assert process.returncode == 0, describe(process)
    assert "x_train: (9, 32, 32, 3)" in process.stdout

    def refuse(constant):
        raise ValueError(f"{constant} in metrics.json")

    metrics = json.loads((output_dir / "metrics.json").read_text(), parse_constant=refuse)
    assert metrics["per_class_accuracy"]["cat"] is None
    assert metrics["per_class_accuracy"]["dog"] is not None
