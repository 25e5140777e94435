"""A stopped run says what is saved, and the same command continues it.

Everything a run writes stays in OUTPUT_DIR/in_progress/ until the run is complete, so these
tests watch that folder (and the run's stdout) to stop a run at a chosen moment.
"""

import csv
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from cifar_files import write_cifar10
from conftest import SCRIPT, clock_lines, describe, run_tutorial, start_tutorial, trusted
from test_robustness import AFTER_A_RUN
from test_robustness import FINAL_OUTPUTS as OUTPUT_FILES

# One line of Keras' log per epoch when the output is not a terminal: "29/29 - 4s - ..."
EPOCH_LOG_LINE = re.compile(r"^\d+/\d+ - .*val_loss", re.MULTILINE)


@pytest.fixture(scope="module")
def slow_data(tmp_path_factory):
    """900 training pictures: at batch 32 an epoch lasts seconds, long enough to interrupt."""
    return write_cifar10(
        str(tmp_path_factory.mktemp("slow_cifar10")), per_batch=200, test_size=100, seed=5
    )


def epochs_in(history_path):
    with open(history_path) as history_file:
        return [int(row["epoch"]) for row in csv.DictReader(history_file)]


def wait_until(condition, process, log_dir, what, timeout=300):
    """Poll condition() until it is true; fail if the run ends first or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, ValueError, KeyError):
            pass  # a file not written yet
        if process.poll() is not None:
            break
        time.sleep(0.02)
    if process.poll() is None:
        process.kill()
        process.wait()
    pytest.fail(f"{what} never happened (exit {process.returncode}):\n{logs(log_dir)}")


def logs(log_dir):
    return (
        f"--- stdout ---\n{read(log_dir / 'stdout.txt')[-4000:]}\n"
        f"--- stderr ---\n{read(log_dir / 'stderr.txt')[-4000:]}"
    )


def read(path):
    with open(path) as text_file:
        return text_file.read()


def in_second_epoch(output_dir, log_dir):
    """True once epoch 1 is backed up and epoch 2 has begun (Keras printed "Epoch 2/3")."""
    work = output_dir / "in_progress"
    return (
        (work / "backup-00001").exists()
        and epochs_in(work / "history.csv") == [1]
        and "\nEpoch 2/3\n" in read(log_dir / "stdout.txt")
    )


def last_line(text):
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def file_hashes(folder):
    """{name: sha256} of the files directly in folder (in_progress/ is a folder: left out)."""
    hashes = {}
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as data:
                hashes[name] = hashlib.sha256(data.read()).hexdigest()
    return hashes


@pytest.mark.parametrize(
    "stop_signal",
    [signal.SIGINT, signal.SIGHUP],
    ids=["SIGINT", "SIGHUP (the terminal closed)"],
)  # SIGTERM (kill): the stop before training, below
def test_a_stop_in_epoch_2_says_in_one_line_what_is_saved(slow_data, tmp_path, stop_signal):
    output_dir = tmp_path / "out"
    flags = ["--data-dir", slow_data, "--output-dir", output_dir, "--epochs", 3, "--batch-size", 32]
    process = start_tutorial(*flags, log_dir=tmp_path)
    wait_until(lambda: in_second_epoch(output_dir, tmp_path), process, tmp_path, "epoch 2")
    process.send_signal(stop_signal)
    assert process.wait(timeout=60) == 130, logs(tmp_path)
    stderr = read(tmp_path / "stderr.txt")
    assert "Traceback" not in stderr, stderr
    message = last_line(stderr)
    assert message == (
        "Stopped with 1 of 3 epochs saved: run the same command again to go on from there."
    ), message
    assert not (output_dir / "metrics.json").exists()  # the rerun: a test of its own, below


def test_a_stop_before_training_says_so_in_one_line(slow_data, tmp_path):
    """kill (SIGTERM) while the data loads: nothing is saved yet, and the line says so."""
    output_dir = tmp_path / "out"
    flags = ["--data-dir", slow_data, "--output-dir", output_dir, "--epochs", 1]
    process = start_tutorial(*flags, log_dir=tmp_path)
    precision_printed = lambda: "Precision: " in read(tmp_path / "stdout.txt")  # noqa: E731
    wait_until(precision_printed, process, tmp_path, "the precision line")  # before the data
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 130, logs(tmp_path)
    message = last_line(read(tmp_path / "stderr.txt"))
    assert message == "Stopped before training began: run the same command again to start."
    assert "Epoch 1" not in read(tmp_path / "stdout.txt")


def test_under_nohup_ctrl_c_after_training_then_the_rerun_only_writes_the_outputs(
    slow_data, tmp_path
):
    """Started by nohup (SIGHUP ignored), the run trains on when its terminal closes; Ctrl-C
    after training stops it, and the same command then writes the outputs without training."""
    output_dir = tmp_path / "out"
    flags = ["--data-dir", slow_data, "--output-dir", output_dir, "--epochs", 1, "--batch-size", 32]
    process = start_tutorial(*flags, log_dir=tmp_path, ignore_hangup=True)
    precision_printed = lambda: "Precision: " in read(tmp_path / "stdout.txt")  # noqa: E731
    wait_until(precision_printed, process, tmp_path, "the precision line")
    process.send_signal(signal.SIGHUP)  # the terminal closes, before training
    backup = output_dir / "in_progress" / "backup-00001"
    wait_until(  # Keras logs the epoch after the backup is in place
        lambda: backup.exists() and EPOCH_LOG_LINE.search(read(tmp_path / "stdout.txt")),
        process,
        tmp_path,
        "the backup of epoch 1",
    )
    assert not (output_dir / "metrics.json").exists(), "the run ended before it could be stopped"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130, logs(tmp_path)
    stderr = read(tmp_path / "stderr.txt")
    assert "Traceback" not in stderr, stderr
    message = last_line(stderr)
    assert message.startswith("Stopped with 1 of 1 epochs saved: run the same command"), message
    assert not (output_dir / "metrics.json").exists()

    rerun = run_tutorial(*flags)
    assert rerun.returncode == 0, describe(rerun)
    assert "1 of 1 epochs are saved" in rerun.stdout, describe(rerun)
    assert "Training is complete" in rerun.stdout, describe(rerun)
    assert "Epoch 1/1" not in rerun.stdout
    assert not EPOCH_LOG_LINE.search(rerun.stdout), "it trained again:\n" + rerun.stdout
    assert sorted(os.listdir(output_dir)) == AFTER_A_RUN
    assert epochs_in(output_dir / "history.csv") == [1]
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 1


def test_a_run_killed_in_epoch_2_leaves_the_last_run_alone_and_the_same_command_resumes(
    tutorial_run, slow_data, tmp_path
):
    """A power cut (SIGKILL) in epoch 2, over outputs/ holding an earlier run: that run stays
    as it was; the same command continues at epoch 2, times only its own epochs, and then
    replaces every output."""
    output_dir = tmp_path / "out"
    shutil.copytree(tutorial_run[1], output_dir)
    first = file_hashes(output_dir)
    flags = ["--data-dir", slow_data, "--output-dir", output_dir, "--epochs", 3, "--batch-size", 32]
    process = start_tutorial(*flags, log_dir=tmp_path)
    wait_until(lambda: in_second_epoch(output_dir, tmp_path), process, tmp_path, "epoch 2")
    process.kill()  # no chance to clean up
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert file_hashes(output_dir) == first, "the unfinished run changed the finished outputs"

    resumed = run_tutorial(*flags)
    assert resumed.returncode == 0, describe(resumed)
    assert "Resuming: 1 of 3 epochs are saved. Continuing with epoch 2." in resumed.stdout
    assert "Epoch 1/3" not in resumed.stdout and "Epoch 2/3" in resumed.stdout, resumed.stdout
    clock = clock_lines(resumed.stdout)  # the resumed run times its own epochs only
    assert [line[:2] for line in clock] == [(2, 3), (3, 3)], resumed.stdout
    assert clock[0][2] < 60 and abs(clock[0][3] - clock[0][2]) <= 1.5
    assert [line[4] for line in clock] == [1, 2]  # "the 1 since resuming took ...", then 2
    assert "Clock: 2 of 3 epochs done; the 1 since resuming took " in resumed.stdout
    now = file_hashes(output_dir)
    assert sorted(now) == AFTER_A_RUN
    unchanged = [name for name in OUTPUT_FILES if now[name] == first[name]]
    assert not unchanged, f"still the earlier run's: {unchanged}"
    assert epochs_in(output_dir / "history.csv") == [1, 2, 3]
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 3 and metrics["batch_size"] == 32, metrics
    assert not (output_dir / "in_progress").exists()


def run_in(cwd, *flags):
    """Run the tutorial from the folder cwd (so that a relative --output-dir lands there)."""
    return subprocess.run(
        [sys.executable, SCRIPT, *trusted(flags)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def killed_in_epoch_3(slow_data, tmp_path_factory):
    """A run killed after epoch 2 of 3 was backed up, started from base/ with --output-dir out.

    Copies of base/out in other folders are the same run: its settings hold "out", not a path.
    """
    base = tmp_path_factory.mktemp("killed_in_epoch_3")
    flags = ["--data-dir", slow_data, "--output-dir", "out", "--epochs", 3, "--batch-size", 32]
    work = base / "out" / "in_progress"
    with open(base / "stdout.txt", "w") as stdout, open(base / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, SCRIPT, *trusted(flags)],
            stdout=stdout,
            stderr=stderr,
            cwd=base,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            stdin=subprocess.DEVNULL,
        )
    wait_until(
        lambda: (work / "backup-00002").exists() and epochs_in(work / "history.csv") == [1, 2],
        process,
        base,
        "the backup of epoch 2",
    )
    process.kill()
    process.wait()
    return base, flags


def truncate_to_half(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as backup:
        backup.truncate(size // 2)


def test_a_damaged_newest_backup_is_skipped_for_the_older_one(killed_in_epoch_3, tmp_path):
    base, flags = killed_in_epoch_3
    shutil.copytree(base / "out", tmp_path / "out")
    work = tmp_path / "out" / "in_progress"
    assert (work / "backup-00001").exists()
    truncate_to_half(work / "backup-00002" / "model.weights.h5")

    process = run_in(tmp_path, *flags)
    assert process.returncode == 0, describe(process)
    assert re.search(r"The backup \S*backup-00002 cannot be read", process.stdout), describe(
        process
    )
    assert "1 of 3 epochs are saved" in process.stdout, describe(process)
    assert "Epoch 1/3" not in process.stdout
    assert "Epoch 2/3" in process.stdout and "Epoch 3/3" in process.stdout
    assert epochs_in(tmp_path / "out" / "history.csv") == [1, 2, 3]
    assert not work.exists()


def test_no_readable_backup_starts_afresh(killed_in_epoch_3, tmp_path):
    base, flags = killed_in_epoch_3
    shutil.copytree(base / "out", tmp_path / "out")
    work = tmp_path / "out" / "in_progress"
    truncate_to_half(work / "backup-00001" / "model.weights.h5")
    truncate_to_half(work / "backup-00002" / "model.weights.h5")

    process = run_in(tmp_path, *flags)
    assert process.returncode == 0, describe(process)
    assert "No backup could be read: starting afresh." in process.stdout, describe(process)
    assert "Resuming" not in process.stdout
    for epoch in (1, 2, 3):
        assert f"Epoch {epoch}/3" in process.stdout
    assert epochs_in(tmp_path / "out" / "history.csv") == [1, 2, 3]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 3
    assert not work.exists()


def test_a_diverging_run_stops_with_one_line_and_writes_no_outputs(tiny_cifar10, tmp_path):
    output_dir = tmp_path / "out"
    process = run_tutorial(
        "--data-dir", tiny_cifar10, "--output-dir", output_dir, "--epochs", 1,
        "--learning-rate", 1e9, "--precision", "float32",
    )  # fmt: skip
    assert process.returncode == 1, describe(process)
    assert "Traceback" not in process.stderr, process.stderr
    assert last_line(process.stderr).startswith("error: the loss became"), describe(process)
    assert not (output_dir / "metrics.json").exists()
    finished = [name for name in OUTPUT_FILES if (output_dir / name).exists()]
    assert not finished, f"outputs of a failed run: {finished}"


def test_other_settings_keep_the_stopped_run_and_say_how_to_continue_it(
    killed_in_epoch_3, tmp_path
):
    """A typo in one flag must not throw away the saved epochs: it refuses, names the settings
    that differ, and touches nothing (the same settings continue it: the test below)."""
    base, flags = killed_in_epoch_3
    shutil.copytree(base / "out", tmp_path / "out")
    work = tmp_path / "out" / "in_progress"
    before = file_hashes(work)
    changed = [flag if flag != 3 else 4 for flag in flags]  # --epochs 4
    process = run_in(tmp_path, *changed, "--precision", "mixed_float16")
    assert process.returncode == 1, describe(process)
    message = process.stderr.strip().splitlines()
    chosen = re.search(r"^Precision: (\S+) ", read(base / "stdout.txt"), re.MULTILINE)[1]
    assert chosen in ("float32", "mixed_bfloat16")  # what "auto" chose for the stopped run
    assert message == [
        f"error: {os.path.join('out', 'in_progress')!r} holds a stopped run with other "
        f"settings (epochs 3, precision {chosen}): run with those to continue it, or delete "
        "that folder to start afresh"
    ], message
    assert "Epoch 1" not in process.stdout and file_hashes(work) == before
    assert sorted(os.listdir(work)) == sorted(os.listdir(base / "out" / "in_progress"))


def test_edits_and_leftovers_in_a_stopped_runs_folder_cannot_wedge_the_resume(
    killed_in_epoch_3, tmp_path
):
    """The same data reached through a symbolic link is the same run; history.csv is only to
    read (an extra column there changes nothing); a backup's history with an extra key, and a
    backup numbered beyond --epochs, are dealt with; a symbolic link planted where an output
    goes is replaced, never written through."""
    base, flags = killed_in_epoch_3
    shutil.copytree(base / "out", tmp_path / "out")
    work = tmp_path / "out" / "in_progress"
    data_dir = flags[flags.index("--data-dir") + 1]
    (tmp_path / "linked").symlink_to(data_dir)
    linked = [tmp_path / "linked" if flag == data_dir else flag for flag in flags]
    lines = (work / "history.csv").read_text().splitlines(keepends=True)
    (work / "history.csv").write_text("".join(line.rstrip("\n") + ",x\n" for line in lines))
    rows = json.loads((work / "backup-00002" / "history.json").read_text())
    rows[0]["learning_rate"] = 0.001  # an edit, or a later version's history
    (work / "backup-00002" / "history.json").write_text(json.dumps(rows))
    shutil.copytree(work / "backup-00002", work / "backup-00005")
    precious = tmp_path / "precious.txt"
    precious.write_text("not the tutorial's")
    (work / "samples.png").unlink()
    (work / "samples.png").symlink_to(precious)

    process = run_in(tmp_path, *linked)
    assert process.returncode == 0, describe(process)
    assert "Traceback" not in process.stderr
    assert re.search(
        r"The backup \S*backup-00005 cannot be read \(.*does not match", process.stdout
    )
    assert "Resuming: 2 of 3 epochs are saved. Continuing with epoch 3." in process.stdout
    rows = list(csv.DictReader(open(tmp_path / "out" / "history.csv")))
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    assert list(rows[0]) == list(csv.DictReader(io.StringIO(lines[0] + lines[1])).fieldnames)
    assert precious.read_text() == "not the tutorial's"
    assert not (tmp_path / "out" / "samples.png").is_symlink()
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 3
