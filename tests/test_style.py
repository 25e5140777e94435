"""The code is formatted and linted with ruff, with the settings in pyproject.toml."""

import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.parametrize("check", [["format", "--check"], ["check"]])
def test_ruff(check):
    process = subprocess.run(
        [sys.executable, "-m", "ruff", *check, "."], cwd=ROOT, capture_output=True, text=True
    )
    assert process.returncode == 0, process.stdout + process.stderr
