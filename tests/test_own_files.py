"""The tutorial touches only what it made: whatever else stands where it would write stops it
at once, with one line, and stays as it was; one run at a time uses an output folder."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import SCRIPT, describe, run_tutorial, start_tutorial
from test_robustness import FINAL_OUTPUTS


def snapshot(folder):
    """{relative path: sha256 or link target} of everything under folder, links not followed."""
    found = {}
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                found[os.path.relpath(path, folder)] = "-> " + os.readlink(path)
            elif os.path.isfile(path):
                with open(path, "rb") as data:
                    found[os.path.relpath(path, folder)] = hashlib.sha256(data.read()).hexdigest()
    return found


def assert_refused_untouched(process, folder, before, *words):
    assert process.returncode == 1, describe(process)
    assert "Traceback" not in process.stderr, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), process.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "Epoch 1" not in process.stdout
    assert snapshot(folder) == before, "the refused run changed the folder"


def test_a_folder_named_in_progress_that_is_not_the_tutorials_is_left_alone(tiny_cifar10, tmp_path):
    """--output-dir . in a folder where the user keeps in_progress/thesis/chapter1.txt."""
    (tmp_path / "in_progress" / "thesis").mkdir(parents=True)
    (tmp_path / "in_progress" / "thesis" / "chapter1.txt").write_text("a year of work")
    (tmp_path / "in_progress" / "settings.json").write_text('{"epochs": 99}')
    before = snapshot(tmp_path)
    process = run_tutorial("--data-dir", tiny_cifar10, "--output-dir", tmp_path, "--epochs", 1)
    assert_refused_untouched(process, tmp_path, before, "in_progress", "move it away")


def test_the_users_own_files_where_outputs_go_are_left_alone(tiny_cifar10, tmp_path):
    for name in ("history.csv", "metrics.json", "samples.png"):
        (tmp_path / name).write_text(f"the user's own {name}")
    before = snapshot(tmp_path)
    process = run_tutorial("--data-dir", tiny_cifar10, "--output-dir", tmp_path, "--epochs", 1)
    assert_refused_untouched(process, tmp_path, before, "not written by this tutorial")


def test_a_changed_output_of_the_last_run_is_left_alone(tutorial_run, tmp_path):
    """An output the last run wrote, then edited by the user, is no longer the tutorial's."""
    _, finished, data_dir = tutorial_run
    output_dir = tmp_path / "out"
    os.mkdir(output_dir)
    for name in FINAL_OUTPUTS:
        (output_dir / name).write_bytes((finished / name).read_bytes())
    with open(output_dir / "history.csv", "a") as history:
        history.write("my own notes\n")
    before = snapshot(output_dir)
    process = run_tutorial("--data-dir", data_dir, "--output-dir", output_dir, "--epochs", 1)
    assert_refused_untouched(process, output_dir, before, "history.csv", "not written by")


def test_a_symbolic_link_where_an_output_goes_is_left_alone(tiny_cifar10, tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not the tutorial's")
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    (output_dir / "metrics.json").symlink_to(elsewhere)
    before = snapshot(tmp_path)
    process = run_tutorial("--data-dir", tiny_cifar10, "--output-dir", output_dir, "--epochs", 1)
    assert_refused_untouched(process, tmp_path, before, "metrics.json")


def test_a_second_run_into_a_busy_output_folder_stops_and_the_first_finishes(
    tiny_cifar10, tmp_path
):
    output_dir = tmp_path / "out"
    flags = ["--data-dir", tiny_cifar10, "--output-dir", output_dir, "--batch-size", 16]
    first = start_tutorial(*flags, "--epochs", 3, log_dir=tmp_path)
    deadline = time.monotonic() + 300
    while "Epoch 1/3" not in (tmp_path / "stdout.txt").read_text() and first.poll() is None:
        assert time.monotonic() < deadline, "the first run never began training"
        time.sleep(0.05)
    in_progress = snapshot(output_dir / "in_progress")
    second = run_tutorial(*flags, "--epochs", 2)  # other settings, the same folder
    assert second.returncode == 1, describe(second)
    lines = second.stderr.strip().splitlines()
    assert lines == [
        f"error: another run (process {first.pid}) is using '{output_dir}'; wait for it to "
        "finish, or choose another --output-dir"
    ], second.stderr
    assert first.poll() is None, "the first run ended before the second was tried"
    now = snapshot(output_dir / "in_progress")
    assert {name: now[name] for name in in_progress if name in now} == {
        name: in_progress[name] for name in in_progress if name in now
    }
    assert first.wait(timeout=300) == 0, (tmp_path / "stderr.txt").read_text()
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 3 and metrics["batch_size"] == 16
    assert sorted(os.listdir(output_dir)) == sorted(FINAL_OUTPUTS)


def test_a_killed_run_leaves_no_lock_behind(tiny_cifar10, tmp_path):
    output_dir = tmp_path / "out"
    flags = ["--data-dir", tiny_cifar10, "--output-dir", output_dir, "--epochs", 2]
    first = start_tutorial(*flags, log_dir=tmp_path)
    deadline = time.monotonic() + 300
    while "Epoch 1/2" not in (tmp_path / "stdout.txt").read_text() and first.poll() is None:
        assert time.monotonic() < deadline, "the first run never began training"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = run_tutorial(*flags)
    assert second.returncode == 0, describe(second)
    assert sorted(os.listdir(output_dir)) == sorted(FINAL_OUTPUTS)


@pytest.fixture
def three_megabytes(tmp_path):
    """A 3 MB file system: the tutorial's backups (about 10 MB each) cannot fit."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_a_nearly_full_disk_stops_with_one_line_before_writing(tiny_cifar10, three_megabytes):
    output_dir = three_megabytes / "out"
    process = run_tutorial("--data-dir", tiny_cifar10, "--output-dir", output_dir, "--epochs", 1)
    assert process.returncode == 1, describe(process)
    assert "Traceback" not in process.stderr and "Exception ignored" not in process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: only "), process.stderr
    assert "free some space, then run the same command again" in lines[0]
    assert "Epoch 1" not in process.stdout
    assert not [name for name in FINAL_OUTPUTS if (output_dir / name).exists()]


def test_with_its_output_closed_the_run_still_finishes(tiny_cifar10, tmp_path):
    output_dir = tmp_path / "out"
    process = subprocess.run(
        [sys.executable, SCRIPT, "--data-dir", tiny_cifar10, "--output-dir", output_dir,
         "--epochs", "1"],
        stderr=subprocess.PIPE, text=True, timeout=600, preexec_fn=lambda: os.close(1),
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr, process.stderr
    assert sorted(os.listdir(output_dir)) == sorted(FINAL_OUTPUTS)


def test_an_ascii_console_and_a_non_ascii_output_folder(tiny_cifar10, tmp_path):
    output_dir = tmp_path / "résultats"
    process = run_tutorial(
        "--data-dir", tiny_cifar10, "--output-dir", output_dir, "--epochs", 1,
        env={"PYTHONIOENCODING": "ascii"},
    )  # fmt: skip
    assert process.returncode == 0, describe(process)
    assert "Traceback" not in process.stderr, process.stderr
    assert "r\\xe9sultats" in process.stdout  # said, in the characters the console has
    assert sorted(os.listdir(output_dir)) == sorted(FINAL_OUTPUTS)


# Runs the tutorial and kills it (SIGKILL, as a power cut) at its fourth rename into the
# output folder: after the run is complete, while it moves its files into place.
KILL_WHILE_PUBLISHING = """
import os, runpy, signal, sys
output_dir = os.path.abspath(sys.argv[sys.argv.index("--output-dir") + 1])
renames = []
def hook(event, args):
    target = os.path.abspath(os.fsdecode(args[1])) if event == "os.rename" else ""
    if os.path.dirname(target) == output_dir:
        renames.append(target)
        if len(renames) == 4:
            os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(hook)
sys.argv = sys.argv[1:]  # the tutorial's own: its path, then its flags
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_a_run_killed_while_publishing_is_finished_by_the_next(tutorial_run, tmp_path):
    """outputs/ then holds some files of the new run and some of the last: the same command
    must finish the new run's publishing, not refuse the new files as another's."""
    _, finished, data_dir = tutorial_run
    output_dir = tmp_path / "out"
    os.mkdir(output_dir)
    for name in FINAL_OUTPUTS:  # the last run's outputs, as a learner's outputs/ holds them
        (output_dir / name).write_bytes((finished / name).read_bytes())
    flags = ["--data-dir", data_dir, "--output-dir", output_dir, "--epochs", 1, "--seed", 5]
    killed = subprocess.run(
        [sys.executable, "-c", KILL_WHILE_PUBLISHING, SCRIPT, *map(str, flags)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, describe(killed)
    assert (output_dir / "in_progress").exists()
    rerun = run_tutorial(*flags)
    assert rerun.returncode == 0, describe(rerun)
    assert "Resuming: 1 of 1 epochs are saved. Training is complete." in rerun.stdout
    assert sorted(os.listdir(output_dir)) == sorted(FINAL_OUTPUTS)
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["seed"] == 5
    for name, digest in metrics["output_files"].items():  # one run's files, all of them
        assert hashlib.sha256((output_dir / name).read_bytes()).hexdigest() == digest, name


def test_an_in_progress_folder_stopped_before_its_mark_is_taken_and_a_strangers_file_kept(
    tiny_cifar10, tmp_path
):
    """A run killed while writing its first run.json leaves only a temporary file: the next
    run takes the folder; a file someone put there is left, and said to be left."""
    work = tmp_path / "out" / "in_progress"
    work.mkdir(parents=True)
    (work / ".tmp-run.json").write_text('{"made_by": "train_cifar10.py", "sett')
    process = run_tutorial("--data-dir", tiny_cifar10, "--output-dir", tmp_path / "out",
                           "--epochs", 1)  # fmt: skip
    assert process.returncode == 0, describe(process)
    assert sorted(os.listdir(tmp_path / "out")) == sorted(FINAL_OUTPUTS)

    (tmp_path / "out" / "in_progress").mkdir()
    again = start_tutorial("--data-dir", tiny_cifar10, "--output-dir", tmp_path / "out",
                           "--epochs", 1, log_dir=tmp_path)  # fmt: skip
    deadline = time.monotonic() + 300
    while not (work / "run.json").exists() and again.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    (work / "backup-notes.txt").write_text("mine")  # a stranger's file, during the run
    assert again.wait(timeout=300) == 0, (tmp_path / "stderr.txt").read_text()
    assert (work / "backup-notes.txt").read_text() == "mine"
    assert "Left " in (tmp_path / "stdout.txt").read_text()
