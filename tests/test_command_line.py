"""Bad flags and a failed download stop the tutorial with a clear message, never a traceback."""

import pytest

from conftest import describe, run_tutorial


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
    assert len(message) >= 1 and message[-1].startswith("error: could not download CIFAR-10")
    assert "--data-dir" in message[-1]
    assert "Traceback" not in process.stderr
