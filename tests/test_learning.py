"""Learning happens, and validation is not the test set: on small synthetic pictures whose
test labels are shuffled, validation accuracy climbs far above chance (10%) while test
accuracy stays near it."""

import json
import pickle

import numpy as np

from cifar_files import batch_record, python2_pickle, write_cifar10
from conftest import describe, run_tutorial


def test_validation_learns_while_a_shuffled_test_set_stays_at_chance(tmp_path):
    data_dir = write_cifar10(str(tmp_path / "data"), per_batch=200, test_size=300, seed=7)
    test_file = f"{data_dir}/test_batch"
    with open(test_file, "rb") as batch_file:
        test_batch = pickle.load(batch_file, encoding="bytes")
    pictures = test_batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    shuffled = np.random.default_rng(0).permutation(test_batch[b"labels"])
    with open(test_file, "wb") as batch_file:
        batch_file.write(python2_pickle(batch_record(pictures, shuffled, "test_batch")))

    output_dir = tmp_path / "out"
    flags = ["--epochs", 6, "--batch-size", 50, "--seed", 3, "--precision", "float32"]
    process = run_tutorial("--data-dir", data_dir, "--output-dir", output_dir, *flags)
    assert process.returncode == 0, describe(process)
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["validation_accuracy"] >= 0.6, metrics
    assert metrics["test_accuracy"] <= 0.25, metrics
