"""What a learner sees in the terminal: the tutorial's own lines, and no library chatter."""

import re
import signal
import subprocess
import sys
import time

import pytest

from cifar_files import CLASS_NAMES
from conftest import SCRIPT, trusted

# TensorFlow's and absl's C++ log lines: "I0000 00:00:1795962087.497482 6708 cudart_stub.cc:31] ..."
LIBRARY_LOG_LINE = re.compile(r"^[IWEF]\d{4} ")
LIBRARY_CHATTER = ["cuInit", "oneDNN", "absl::InitializeLog", "Traceback"]
PICTURE_LINE = re.compile(r"^\s*([a-z]+): (\d+(?:\.\d+)?)%$")


@pytest.fixture(scope="module")
def console_run(tutorial_run):
    """The shared run: three epochs (Keras prints no "Epoch 1/1" line for a one-epoch fit)."""
    return tutorial_run[0]


def test_no_library_log_lines_on_the_console(console_run):
    noise = [
        f"{stream}: {line}"
        for stream, text in (("stdout", console_run.stdout), ("stderr", console_run.stderr))
        for line in text.splitlines()
        if LIBRARY_LOG_LINE.match(line) or any(word in line for word in LIBRARY_CHATTER)
    ]
    assert not noise, "library log lines:\n" + "\n".join(noise)


def index_of(lines, start, what):
    """The index of the first line from start on that begins with what (spaces stripped)."""
    for index in range(start, len(lines)):
        if lines[index].strip().startswith(what):
            return index
    pytest.fail(f"no line beginning {what!r} after line {start}:\n" + "\n".join(lines))


def test_the_tutorials_own_lines_in_order(console_run):
    lines = console_run.stdout.splitlines()
    position = 0
    for what in ("Keras ", "x_train:", "Epoch 1/3", "Test accuracy:", "test_picture.png"):
        position = index_of(lines, position, what) + 1
    assert lines[position - 1].strip() == "test_picture.png"

    answers = [PICTURE_LINE.match(line) for line in lines[position : position + 4]]
    assert all(answers[:3]) and not answers[3], (
        "expected exactly three lines '<class>: <number>%' after test_picture.png:\n"
        + "\n".join(lines[position : position + 4])
    )
    names = [answer[1] for answer in answers[:3]]
    percentages = [float(answer[2]) for answer in answers[:3]]
    assert set(names) <= set(CLASS_NAMES) and len(set(names)) == 3, names
    assert percentages == sorted(percentages, reverse=True), percentages
    assert sum(percentages) <= 100.15, percentages  # each is rounded to 0.1
    index_of(lines, position + 3, "Wrote ")


# Runs the tutorial as IDLE does (F5): its console takes the place of stdout and stderr, and
# has no fileno and no reconfigure, and says it is a terminal; on Windows IDLE starts the
# script with pythonw, which has no file descriptor 2 at all.
IDLE = """
import io, os, runpy, sys, types

class IdleConsole(io.TextIOBase):
    def __init__(self, path):
        self.file = open(path, "w", buffering=1)
    def write(self, text):
        return self.file.write(text)
    def isatty(self):
        return True

stdout, stderr = IdleConsole(sys.argv[1]), IdleConsole(sys.argv[2])
sys.modules["idlelib"] = types.ModuleType("idlelib")
os.close(2)
sys.stdout, sys.stderr = stdout, stderr
sys.argv = sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_in_idles_console_it_prints_one_line_per_epoch_and_its_stop_message(tiny_cifar10, tmp_path):
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    flags = trusted(["--data-dir", tiny_cifar10, "--output-dir", tmp_path / "out", "--epochs", 3])
    process = subprocess.Popen([sys.executable, "-c", IDLE, stdout, stderr, SCRIPT, *flags])
    deadline = time.monotonic() + 300
    while not stdout.exists() or "Clock: 1 of 3" not in stdout.read_text():
        assert process.poll() is None, stderr.read_text() if stderr.exists() else ""
        assert time.monotonic() < deadline, "the first epoch never ended"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130, stderr.read_text()
    printed = stdout.read_text()
    for line in ("Precision: ", "Keras ", "x_train: (270, 32, 32, 3)", "Epoch 1/3"):
        assert line in printed, printed
    assert re.search(r"^3/3 - .*val_loss", printed, re.MULTILINE), "one line per epoch"
    assert "\r" not in printed and "\b" not in printed, "a progress bar IDLE cannot redraw"
    assert "Traceback" not in stderr.read_text()
    assert (
        stderr.read_text().strip().splitlines()[-1].startswith("Stopped with 1 of 3 epochs saved")
    )
