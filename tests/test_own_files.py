"""The output folder is the tutorial's or it is left alone: a folder that is not new, not
empty and not marked with train_cifar10_outputs.txt is refused, untouched. In its own folder
the tutorial replaces only its own outputs; one run at a time uses it; and the move of the
outputs into place can always be finished."""

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import (
    ROOT,
    SCRIPT,
    describe,
    run_tutorial,
    start_tutorial,
    trusted,
    tutorial_definitions,
)
from test_robustness import AFTER_A_RUN, FINAL_OUTPUTS, MARK


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


def test_a_folder_that_is_not_the_tutorials_is_left_alone(tiny_cifar10, tmp_path):
    """--output-dir . where the user keeps files named like outputs, and in_progress/thesis."""
    for name in ("history.csv", "metrics.json", "samples.png"):
        (tmp_path / name).write_text(f"the user's own {name}")
    (tmp_path / "in_progress" / "thesis").mkdir(parents=True)
    (tmp_path / "in_progress" / "thesis" / "chapter1.txt").write_text("a year of work")
    before = snapshot(tmp_path)
    process = run_tutorial("--data-dir", tiny_cifar10, "--output-dir", tmp_path, "--epochs", 1)
    assert process.returncode == 1, describe(process)
    assert "Traceback" not in process.stderr, process.stderr
    assert process.stderr.strip().splitlines() == [
        f"error: {str(tmp_path)!r} is not empty and has no {MARK}: not this tutorial's"
    ]
    assert "Epoch 1" not in process.stdout
    assert snapshot(tmp_path) == before, "the refused run changed the folder"


@pytest.mark.parametrize(
    "names, taken",
    [([], True), ([".DS_Store"], True), ([".DS_Store", "notes.txt"], False), ([MARK], True)],
)
def test_a_folder_is_taken_if_new_empty_but_for_hidden_files_or_marked(names, taken, tmp_path):
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    for name in names:
        (output_dir / name).write_text("")
    tutorial = tutorial_definitions(
        "MARK", "read_json", "work_file", "claim_output_folder", json=json, os=os,
        fcntl=fcntl,
        sys=sys, output_dir=str(output_dir), work_dir=str(output_dir / "in_progress"),
        output_lock=None,
    )  # fmt: skip
    try:
        tutorial["claim_output_folder"]()
    except SystemExit as refused:
        assert not taken and MARK in str(refused.code)
        assert sorted(os.listdir(output_dir)) == sorted(names)
    else:
        assert taken and (output_dir / MARK).is_file()
        tutorial["output_lock"].close()


class NoLocks:
    """fcntl on a network or cloud drive that has no locks."""

    LOCK_EX = LOCK_NB = 0

    @staticmethod
    def flock(file, operation):
        raise OSError(errno.ENOLCK, "No locks available")


def test_a_drive_without_locks_warns_and_carries_on(tmp_path, capsys):
    output_dir = tmp_path / "out"
    tutorial = tutorial_definitions(
        "MARK", "read_json", "work_file", "claim_output_folder", json=json, os=os,
        fcntl=NoLocks, sys=sys, output_dir=str(output_dir),
        work_dir=str(output_dir / "in_progress"),
    )  # fmt: skip
    tutorial["claim_output_folder"]()
    tutorial["output_lock"].close()
    assert capsys.readouterr().out == (
        f"Warning: cannot lock {output_dir / MARK} (No locks available): run one at a time.\n"
    )
    assert os.listdir(output_dir) == [MARK]


def wait_for_training(log_dir, process, epochs):
    deadline = time.monotonic() + 300
    while f"Epoch 1/{epochs}" not in (log_dir / "stdout.txt").read_text():
        assert process.poll() is None and time.monotonic() < deadline, "it never began training"
        time.sleep(0.05)


def test_a_run_in_the_committed_outputs_replaces_its_own_files_only_and_one_run_at_a_time(
    tiny_cifar10, tmp_path
):
    """The committed outputs/, as a fresh clone has it, is the tutorial's by its mark (a user
    hands over a folder of their own the same way). A run there replaces its outputs (a
    symbolic link too, never written through), leaves every other file, and while it runs
    a second run into the same folder stops at once, naming it."""
    output_dir = tmp_path / "out"
    tracked = subprocess.run(
        ["git", "ls-files", "outputs"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    output_dir.mkdir()
    for path in tracked:
        shutil.copy(os.path.join(ROOT, path), output_dir)
    assert MARK in os.listdir(output_dir)
    (output_dir / "my_notes.txt").write_text("mine")
    (tmp_path / "elsewhere.txt").write_text("not the tutorial's")
    (output_dir / "metrics.json").unlink()
    (output_dir / "metrics.json").symlink_to(tmp_path / "elsewhere.txt")

    flags = ["--data-dir", tiny_cifar10, "--output-dir", output_dir, "--batch-size", 16]
    first = start_tutorial(*flags, "--epochs", 3, log_dir=tmp_path)
    wait_for_training(tmp_path, first, 3)
    in_progress = snapshot(output_dir / "in_progress")
    second = run_tutorial(*flags, "--epochs", 2)  # other settings, the same folder
    assert second.returncode == 1, describe(second)
    assert second.stderr.strip().splitlines() == [
        f"error: another run (process {first.pid}) is using '{output_dir}'; wait for it to finish"
    ], second.stderr
    assert first.poll() is None, "the first run ended before the second was tried"
    now = snapshot(output_dir / "in_progress")
    assert {name: now[name] for name in in_progress if name in now} == {
        name: in_progress[name] for name in in_progress if name in now
    }
    assert first.wait(timeout=300) == 0, (tmp_path / "stderr.txt").read_text()

    assert sorted(os.listdir(output_dir)) == sorted(AFTER_A_RUN + ["my_notes.txt"])
    assert (output_dir / "my_notes.txt").read_text() == "mine"
    assert (tmp_path / "elsewhere.txt").read_text() == "not the tutorial's"
    assert not (output_dir / "metrics.json").is_symlink()
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 3 and metrics["batch_size"] == 16


# A notebook kernel interrupted mid-run, idle, still holding the folder's lock.
IDLE_KERNEL = """
import fcntl, json, os, sys, time
output_dir = sys.argv[1]
os.makedirs(os.path.join(output_dir, "in_progress"))
mark = open(os.path.join(output_dir, "train_cifar10_outputs.txt"), "ab")
fcntl.flock(mark, fcntl.LOCK_EX)
run = {"settings": {}, "process": os.getpid(), "notebook": True}
with open(os.path.join(output_dir, "in_progress", "run.json"), "w") as run_file:
    json.dump(run, run_file)
print("holding", flush=True)
time.sleep(120)
"""


def test_a_folder_held_by_an_idle_notebook_kernel_says_to_shut_the_kernel_down(
    tiny_cifar10, tmp_path
):
    output_dir = tmp_path / "out"
    kernel = subprocess.Popen(
        [sys.executable, "-c", IDLE_KERNEL, str(output_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert kernel.stdout.readline() == "holding\n"
        process = run_tutorial("--data-dir", tiny_cifar10, "--output-dir", output_dir)
    finally:
        kernel.kill()
        kernel.wait()
    assert process.returncode == 1, describe(process)
    assert process.stderr.strip().splitlines() == [
        f"error: a notebook kernel (process {kernel.pid}) is using '{output_dir}'; shut it down"
    ]


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


def test_a_run_killed_while_moving_its_outputs_is_finished_by_the_next(tutorial_run, tmp_path):
    """Killed over an earlier run's outputs, after some of its files moved: the next run
    (the same command) finishes the move first, then runs afresh: it never resumes a run
    that was complete."""
    _, earlier, data_dir = tutorial_run
    output_dir = tmp_path / "out"
    shutil.copytree(earlier, output_dir)
    flags = ["--data-dir", data_dir, "--output-dir", output_dir, "--epochs", 1, "--seed", 5]
    killed = subprocess.run(
        [sys.executable, "-c", KILL_WHILE_PUBLISHING, SCRIPT, *trusted(flags)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, describe(killed)
    assert (output_dir / "in_progress" / "metrics.json").exists()
    assert json.loads((output_dir / "metrics.json").read_text())["seed"] == 1  # not yet moved
    rerun = run_tutorial(*flags)
    assert rerun.returncode == 0, describe(rerun)
    assert f"Finished moving the last run's outputs into {output_dir}." in rerun.stdout
    assert "Resuming" not in rerun.stdout and "Clock: 1 of 1 epochs done" in rerun.stdout
    assert sorted(os.listdir(output_dir)) == AFTER_A_RUN
    assert json.loads((output_dir / "metrics.json").read_text())["seed"] == 5


class Killed(BaseException):
    """Stands for the process being killed: nothing after it runs."""


class CuttableOs:
    """The os module, but killed after a given number of renames and deletions."""

    def __init__(self, limit):
        self.limit, self.steps = limit, 0

    def __getattr__(self, name):
        return getattr(os, name)

    def step(self):
        if self.steps == self.limit:
            raise Killed
        self.steps += 1

    def replace(self, *paths):
        self.step()
        os.replace(*paths)

    def remove(self, path):
        self.step()
        os.remove(path)

    def rmtree(self, path):
        self.step()
        shutil.rmtree(path)


def move_outputs_into_place(output_dir, limit=None):
    """The tutorial's move_outputs_into_place, killed after `limit` steps (None: never)."""
    cuttable = CuttableOs(limit)
    names = ["OUTPUT_FILES", "work_file", "backups", "remove", "rename", "move_outputs_into_place"]
    tutorial = tutorial_definitions(
        *names, os=cuttable, re=re, shutil=cuttable, time=time,
        output_dir=str(output_dir), work_dir=str(output_dir / "in_progress"),
    )  # fmt: skip
    tutorial["move_outputs_into_place"]()


def test_whatever_moment_the_move_is_cut_the_next_run_finishes_it(tmp_path):
    """The move of a complete run's outputs over the last run's, cut after each of its steps
    (every rename and deletion) in turn, then finished as the next run finishes it: the
    output folder holds this run's outputs, all of them, and nothing is left behind."""
    steps = 0
    while True:
        output_dir = tmp_path / f"cut after {steps} steps"
        work_dir = output_dir / "in_progress"
        os.makedirs(work_dir / "backup-00002")
        for name in FINAL_OUTPUTS:
            (output_dir / name).write_text("the last run's")
            (work_dir / name).write_text("this run's")
        (work_dir / "run.json").write_text("{}")
        try:
            move_outputs_into_place(output_dir, limit=steps)
            cut = False
        except Killed:
            cut = True
            assert (work_dir / "metrics.json").exists(), "the next run could not tell"
            move_outputs_into_place(output_dir)  # as open_run_folder does
        assert {name: (output_dir / name).read_text() for name in FINAL_OUTPUTS} == {
            name: "this run's" for name in FINAL_OUTPUTS
        }, steps
        assert os.listdir(work_dir) == [], steps
        if not cut:
            break
        steps += 1
    assert steps == len(FINAL_OUTPUTS) + 2  # every rename, the backup and run.json
