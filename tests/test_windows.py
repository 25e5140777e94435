"""The tutorial with its Windows branches taken, as far as Linux can play Windows
(tests/play_windows.py): the lock through msvcrt, SIGBREAK for a closed console, and a file
that another program holds open. Nothing here runs Windows itself."""

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
from conftest import SCRIPT, describe, trusted

PLAY_WINDOWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "play_windows.py")


@pytest.fixture(scope="module")
def slow_data(tmp_path_factory):
    """450 training pictures: at batch 32 an epoch lasts about a second."""
    return write_cifar10(
        str(tmp_path_factory.mktemp("windows_cifar10")), per_batch=100, test_size=100, seed=5
    )


def on_windows(flags, held=(), **options):
    env = dict(os.environ, PYTHONUNBUFFERED="1", HELD_OPEN=os.pathsep.join(map(str, held)))
    command = [sys.executable, PLAY_WINDOWS, SCRIPT, *trusted(flags)]
    if options.pop("background", False):
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, **options)
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
    )


def test_the_tutorial_with_its_windows_branches(tutorial_run, slow_data, tmp_path):
    """One run holds the folder (msvcrt's lock): a second is refused, naming it. Closing its
    console (SIGBREAK) stops it with its one line. The same command resumes it while Excel
    holds history.csv open, in in_progress/ and in outputs/: each write of it is skipped with
    a note, the rest replaced."""
    output_dir = tmp_path / "out"
    shutil.copytree(tutorial_run[1], output_dir)  # an earlier run's outputs
    earlier_history = (output_dir / "history.csv").read_text()
    flags = ["--data-dir", slow_data, "--output-dir", output_dir, "--epochs", 2]
    flags += ["--batch-size", 32]
    with open(tmp_path / "stdout.txt", "w") as stdout, open(tmp_path / "stderr.txt", "w") as err:
        first = on_windows(flags, background=True, stdout=stdout, stderr=err)
    deadline = time.monotonic() + 300
    while not (output_dir / "in_progress" / "backup-00001").exists():
        assert first.poll() is None and time.monotonic() < deadline, describe(first)
        time.sleep(0.05)

    first.send_signal(signal.SIGSTOP)  # paused, still holding its lock, while the second tries
    try:
        second = on_windows(flags)
    finally:
        first.send_signal(signal.SIGUSR1)  # SIGBREAK: its console window was closed
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 1, describe(second)
    assert second.stderr.strip().splitlines()[-1] == (  # before it, with no fcntl: JAX's
        f"error: another run (process {first.pid}) is using '{output_dir}'; wait for it to finish"
    )  # filelock warns of a soft lock (on Windows it uses msvcrt, and says nothing)
    assert "Traceback" not in second.stderr
    assert first.wait(timeout=60) == 130
    stopped = (tmp_path / "stderr.txt").read_text().strip().splitlines()[-1]
    saved = re.match(r"Stopped with (\d) of 2 epochs saved: run the same command again", stopped)
    assert saved and int(saved[1]) >= 1, stopped

    watched = [output_dir / "in_progress" / "history.csv", output_dir / "history.csv"]
    resumed = on_windows(flags, held=watched)  # Excel shows both, as the tutorial suggests
    assert resumed.returncode == 0, describe(resumed)
    assert f"Resuming: {saved[1]} of 2 epochs are saved." in resumed.stdout
    assert (
        f"Note: {output_dir / 'history.csv'} is held open by another program, so it was not "
        "replaced." in resumed.stdout
    ), resumed.stdout
    assert (output_dir / "history.csv").read_text() == earlier_history
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 2 and metrics["batch_size"] == 32
    assert "Traceback" not in resumed.stderr
