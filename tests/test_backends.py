"""The whole tutorial runs on the JAX and PyTorch backends of Keras 3 too, and on those it
needs no TensorFlow at all."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import SCRIPT, describe, run_tutorial, trusted
from test_robustness import AFTER_A_RUN


def without_tensorflow(tmp_path):
    """A folder of links to every installed package but TensorFlow's: with it as the only
    path (python -S), a process sees an installation where TensorFlow never was."""
    import keras

    site_packages = os.path.dirname(os.path.dirname(keras.__file__))
    folder = tmp_path / "site-packages-without-tensorflow"
    folder.mkdir()
    for name in os.listdir(site_packages):
        if not name.startswith(("tensorflow", "tf_keras", "tensorboard")):
            (folder / name).symlink_to(os.path.join(site_packages, name))
    return folder


@pytest.mark.parametrize("backend, tensorflow", [("jax", "installed"), ("torch", "missing")])
def test_tutorial_runs_end_to_end_on_backend(backend, tensorflow, tiny_cifar10, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -r requirements-backends.txt)")
    output_dir = tmp_path / "out"
    flags = ["--data-dir", tiny_cifar10, "--output-dir", output_dir, "--epochs", 2]
    if tensorflow == "installed":
        process = run_tutorial(*flags, env={"KERAS_BACKEND": backend})
    else:
        env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=without_tensorflow(tmp_path))
        look = "import importlib.util as util; print(util.find_spec('tensorflow'))"
        found = subprocess.run([sys.executable, "-S", "-c", look], env=env, capture_output=True)
        assert found.stdout.strip() == b"None", "TensorFlow is still importable"
        process = subprocess.run(
            [sys.executable, "-S", SCRIPT, *trusted(flags)],
            env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert process.returncode == 0, describe(process)
    assert f"on the {backend} backend" in process.stdout
    assert "Traceback" not in process.stderr
    assert process.stdout.count("Clock: ") == 2
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["backend"] == backend and metrics["epochs_completed"] == 2
    assert sorted(metrics["versions"]) == sorted(["keras", "numpy", "python", backend])
    assert sorted(os.listdir(output_dir)) == AFTER_A_RUN
    assert sum(map(sum, metrics["confusion_matrix"])) == 100  # every test picture, once
