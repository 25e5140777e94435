"""The whole tutorial runs on the JAX and PyTorch backends of Keras 3 too."""

import importlib.util
import json
import os

import pytest

from conftest import describe, run_tutorial
from test_robustness import FINAL_OUTPUTS


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_tutorial_runs_end_to_end_on_backend(backend, tiny_cifar10, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -r requirements-backends.txt)")
    output_dir = tmp_path / "out"
    process = run_tutorial(
        "--data-dir",
        tiny_cifar10,
        "--output-dir",
        output_dir,
        "--epochs",
        2,
        env={"KERAS_BACKEND": backend},
    )
    assert process.returncode == 0, describe(process)
    assert f"on the {backend} backend" in process.stdout
    assert "Traceback" not in process.stderr
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["backend"] == backend and metrics["epochs_completed"] == 2
    assert sorted(os.listdir(output_dir)) == sorted(FINAL_OUTPUTS)
