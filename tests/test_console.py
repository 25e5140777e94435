"""What a learner sees in the terminal: the tutorial's own lines, and no library chatter."""

import re

import pytest

from cifar_files import CLASS_NAMES

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
