"""Learning happens: on small synthetic pictures, a few epochs get far above chance (10%)."""

import json

from cifar_files import write_cifar10
from conftest import describe, run_tutorial


def test_a_few_epochs_learn_the_synthetic_classes(tmp_path):
    data_dir = write_cifar10(str(tmp_path / "data"), per_batch=200, test_size=300, seed=7)
    output_dir = tmp_path / "out"
    process = run_tutorial(
        "--data-dir",
        data_dir,
        "--output-dir",
        output_dir,
        "--epochs",
        6,
        "--batch-size",
        50,
        "--seed",
        3,
    )
    assert process.returncode == 0, describe(process)
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.6, metrics
