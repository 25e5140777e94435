import ast
import os
import re
import signal
import subprocess
import sys

import pytest

from cifar_files import write_cifar10

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "train_cifar10.py")

# Started in the background (by nohup, or a shell's "&"), the suite may have SIGINT or SIGHUP
# ignored, and the tutorial keeps a signal ignored that it starts with: its runs get them as
# from a terminal, so that the tests that stop a run can (one test ignores SIGHUP itself).
for stop_signal in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    if signal.getsignal(stop_signal) == signal.SIG_IGN:
        signal.signal(stop_signal, signal.default_int_handler)  # not inherited: the default


def readme_text():
    """README.md with its whitespace collapsed, so that a quoted sentence may span lines."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as readme:
        return " ".join(readme.read().split())


def results_text():
    """benchmarks/RESULTS.md with its whitespace collapsed, as readme_text()."""
    with open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), encoding="utf-8") as results:
        return " ".join(results.read().split())


def trusted(flags, trust=True):
    """The flags, with --trust-data where they name a --data-dir: the tests' data is their own
    copy in the official format, never the official download."""
    flags = [str(flag) for flag in flags]
    trust = trust and "--data-dir" in flags and "--trust-data" not in flags
    return flags + ["--trust-data"] * trust


def run_tutorial(*flags, env=None, timeout=600, trust=True):
    """Run train_cifar10.py as a learner would, and return the finished process."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run(
        [sys.executable, SCRIPT, *trusted(flags, trust)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def describe(process):
    return (
        f"exit {process.returncode}\n--- stdout ---\n{process.stdout[-4000:]}\n"
        f"--- stderr ---\n{process.stderr[-4000:]}"
    )


@pytest.fixture(scope="session")
def tiny_cifar10(tmp_path_factory):
    """A tiny CIFAR-10 (300 training and 100 test pictures) in the official layout."""
    root = tmp_path_factory.mktemp("tiny_cifar10")
    write_cifar10(str(root), per_batch=60, test_size=100)
    return root


@pytest.fixture(scope="session")
def tutorial_run(tiny_cifar10, tmp_path_factory):
    """One whole run of the tutorial on the tiny data, shared by the tests that read its outputs."""
    output_dir = tmp_path_factory.mktemp("outputs")
    process = run_tutorial(
        "--data-dir",
        tiny_cifar10,
        "--output-dir",
        output_dir,
        "--epochs",
        3,
        "--batch-size",
        64,
        "--seed",
        1,
    )
    assert process.returncode == 0, describe(process)
    return process, output_dir, tiny_cifar10


def start_tutorial(*flags, log_dir, ignore_hangup=False):
    """Start train_cifar10.py in the background, its output going to files in log_dir; with
    ignore_hangup, as nohup starts it."""
    stdout = open(os.path.join(log_dir, "stdout.txt"), "w")
    stderr = open(os.path.join(log_dir, "stderr.txt"), "w")
    return subprocess.Popen(
        [sys.executable, SCRIPT, *trusted(flags)],
        stdout=stdout,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        preexec_fn=(lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
        if ignore_hangup
        else None,
    )


def tutorial_definitions(*names, **namespace):
    """The tutorial's top-level functions, classes and assignments of these names, run in a
    namespace of the given globals (the names they use from elsewhere): the housekeeping
    tried in-process, in milliseconds, without TensorFlow."""
    tree = ast.parse(open(SCRIPT, encoding="utf-8").read())
    wanted = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in names:
            wanted.append(node)
        elif isinstance(node, ast.Assign):
            if {getattr(target, "id", "") for target in node.targets} & set(names):
                wanted.append(node)
    exec(compile(ast.Module(wanted, type_ignores=[]), SCRIPT, "exec"), namespace)
    missing = [name for name in names if name not in namespace]
    assert not missing, f"the tutorial defines no {missing}"
    return namespace


CLOCK_LINE = re.compile(
    r"^Clock: (\d+) of (\d+) epochs done; (?:the (\d+) since resuming took )?(?:(\d+) min )?"
    r"(\d+) s(?: so far)?, about "
    r"(?:(\d+) h )?(?:(\d+) min )?(?:(\d+) s )?to go\.$",
    re.MULTILINE,
)


def clock_lines(stdout):
    """(epochs done, epochs, seconds so far, seconds to go, epochs timed) for each line of the
    clock: a resumed run times only the epochs it trained itself."""
    lines = []
    for done, total, timed, minutes, seconds, *left in CLOCK_LINE.findall(stdout):
        so_far = 60 * int(minutes or 0) + int(seconds)
        to_go = 3600 * int(left[0] or 0) + 60 * int(left[1] or 0) + int(left[2] or 0)
        lines.append((int(done), int(total), so_far, to_go, int(timed or done)))
    return lines
