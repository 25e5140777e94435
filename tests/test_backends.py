"""The whole tutorial runs on the JAX and PyTorch backends of Keras 3 too, and on those it
needs no TensorFlow at all."""

import importlib.util
import json
import os

import pytest

from conftest import describe, run_tutorial
from test_robustness import FINAL_OUTPUTS

# Imported first by Python in every process started with this folder on PYTHONPATH: it makes
# `import tensorflow` fail, as where TensorFlow is not installed.
NO_TENSORFLOW = 'import sys\nsys.modules["tensorflow"] = None\n'


@pytest.mark.parametrize(
    "backend, tensorflow",
    [("jax", "installed"), ("torch", "not importable")],
)
def test_tutorial_runs_end_to_end_on_backend(backend, tensorflow, tiny_cifar10, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -r requirements-backends.txt)")
    env = {"KERAS_BACKEND": backend}
    if tensorflow == "not importable":
        (tmp_path / "sitecustomize.py").write_text(NO_TENSORFLOW)
        env["PYTHONPATH"] = str(tmp_path)
    output_dir = tmp_path / "out"
    process = run_tutorial(
        "--data-dir", tiny_cifar10, "--output-dir", output_dir, "--epochs", 2, env=env
    )
    assert process.returncode == 0, describe(process)
    assert f"on the {backend} backend" in process.stdout
    assert "Traceback" not in process.stderr
    assert process.stdout.count("Clock: ") == 2
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["backend"] == backend and metrics["epochs_completed"] == 2
    assert sorted(metrics["versions"]) == sorted(["keras", "numpy", "python", backend])
    assert sorted(os.listdir(output_dir)) == sorted(FINAL_OUTPUTS)
    assert sum(map(sum, metrics["confusion_matrix"])) == 100  # every test picture, once
