"""Bad flags and a failed download stop the tutorial with a clear message, never a traceback."""

import re
import subprocess
import sys

import pytest

from conftest import SCRIPT, describe, run_tutorial


@pytest.mark.parametrize(
    "flags",
    [
        ["--epochs", "0"],
        ["--epochs", "-3"],
        ["--epochs", "ten"],
        ["--batch-size", "0"],
        ["--batch-size", "1.5"],
        ["--learning-rate", "0"],
        ["--learning-rate", "nan"],
        ["--seed", "-1"],
        ["--seed", "4294967296"],
        ["--batch-size", "9223372036854775808"],
        ["--batch-size", "1025"],
        ["--epochs", "100000"],
        ["--learning-rate", "inf"],
        ["--precision", "float8"],
        ["--no-such-flag"],
    ],
)
def test_bad_flags_exit_2_with_usage(flags, tmp_path):
    process = run_tutorial(*flags, "--output-dir", tmp_path / "out")
    assert process.returncode == 2, describe(process)
    assert process.stderr.startswith("usage: ") and flags[0] in process.stderr.splitlines()[-1]
    assert "Traceback" not in process.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_setting_in_the_parameters_cell_is_refused_as_a_flag_is(tmp_path):
    """A notebook (or papermill) sets the settings, not flags: they are checked the same way."""
    script = open(SCRIPT, encoding="utf-8").read()
    assert script.count("\nepochs = 40\n") == 1
    copy = tmp_path / "train_cifar10.py"
    copy.write_text(script.replace("\nepochs = 40\n", "\nepochs = 0\n"), encoding="utf-8")
    # Run as a kernel runs a cell: sys.argv[0] is the kernel's launcher (runpy would set it to
    # the script's path), and the usage line must still name the script.
    as_a_kernel = "import sys; sys.argv[:2] = ['ipykernel_launcher.py']; path = "
    as_a_kernel += f"{str(copy)!r}; exec(compile(open(path).read(), path, 'exec'), {{}})"
    process = subprocess.run(
        [sys.executable, "-c", as_a_kernel, copy, "--output-dir", tmp_path / "out"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert process.returncode == 2, describe(process)
    assert process.stderr.startswith("usage: train_cifar10.py [-h]"), process.stderr
    assert process.stderr.splitlines()[-1].endswith(
        "argument --epochs: must be from 1 to 10000, got 0"
    ), process.stderr
    assert not (tmp_path / "out").exists()


def test_offline_without_data_dir_exits_1_and_says_what_to_do(tmp_path):
    # An empty Keras cache and a proxy nobody listens on: the download must fail.
    unreachable = "http://127.0.0.1:9"
    env = {
        "KERAS_HOME": str(tmp_path / "keras_home"),
        "https_proxy": unreachable,
        "HTTPS_PROXY": unreachable,
        "http_proxy": unreachable,
        "HTTP_PROXY": unreachable,
        "no_proxy": "",
        "NO_PROXY": "",
    }
    process = run_tutorial("--output-dir", tmp_path / "out", env=env, timeout=300)
    assert process.returncode == 1, describe(process)
    message = process.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("error: could not download CIFAR-10")
    assert "Keras' cache" in message[0] and "--data-dir" in message[0]
    assert "Traceback" not in process.stderr


@pytest.mark.parametrize("backend", ["nonsense", "tensorflow2"])
def test_unknown_backend_exits_1_with_one_line(backend, tmp_path):
    process = run_tutorial("--output-dir", tmp_path / "out", env={"KERAS_BACKEND": backend})
    assert process.returncode == 1, describe(process)
    assert process.stderr.strip().splitlines() == [
        f"error: Keras backend {backend}: not installed, or not tensorflow, jax or torch"
    ]
    assert not (tmp_path / "out").exists()


def test_help_describes_every_flag():
    process = run_tutorial("--help")
    assert process.returncode == 0, describe(process)
    flags = re.findall(r"^  (--[a-z-]+)", process.stdout, re.MULTILINE)
    assert flags == [
        "--epochs",
        "--batch-size",
        "--learning-rate",
        "--seed",
        "--data-dir",
        "--trust-data",
        "--output-dir",
        "--precision",
    ]
    for flag in flags[1:]:
        description = process.stdout.split(flag, 1)[1].split("\n  --", 1)[0]
        assert re.search(r"[a-z]{3,} [a-z]{2,}", description), (flag, description)
