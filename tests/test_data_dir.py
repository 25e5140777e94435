"""--data-dir takes the official layout in its three forms, and refuses a hostile pickle."""

import os
import pickle

import pytest

from cifar_files import write_archive
from conftest import describe, run_tutorial


@pytest.mark.parametrize("form", ["batches folder", "parent folder", "tar.gz archive"])
def test_data_dir_accepts_the_three_forms(tiny_cifar10, tmp_path, form):
    batches_folder = os.path.join(tiny_cifar10, "cifar-10-batches-py")
    data_dir = {
        "batches folder": batches_folder,
        "parent folder": str(tiny_cifar10),
        "tar.gz archive": write_archive(batches_folder, str(tmp_path / "cifar-10-python.tar.gz")),
    }[form]
    output_dir = tmp_path / "out"
    process = run_tutorial("--data-dir", data_dir, "--output-dir", output_dir, "--epochs", 1)
    assert process.returncode == 0, describe(process)
    assert "x_train: (270, 32, 32, 3) uint8 | y_train: (270, 1)" in process.stdout
    assert "x_val:   (30, 32, 32, 3) | x_test: (100, 32, 32, 3)" in process.stdout
    assert (output_dir / "metrics.json").exists()


class RunsCode:
    """Unpickling this calls os.system: what a malicious "dataset" would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_runs_code_is_refused(tiny_cifar10, tmp_path):
    data_dir = tmp_path / "cifar-10-batches-py"
    data_dir.mkdir()
    for name in os.listdir(os.path.join(tiny_cifar10, "cifar-10-batches-py")):
        with open(os.path.join(tiny_cifar10, "cifar-10-batches-py", name), "rb") as source:
            (data_dir / name).write_bytes(source.read())
    marker = tmp_path / "code-was-run"
    (data_dir / "data_batch_3").write_bytes(
        pickle.dumps({b"data": RunsCode(marker), b"labels": []}, protocol=2)
    )
    output_dir = tmp_path / "out"
    process = run_tutorial("--data-dir", data_dir, "--output-dir", output_dir)
    assert process.returncode == 1, describe(process)
    assert not marker.exists(), "the pickle ran its code"
    assert "data_batch_3" in process.stderr and "refused" in process.stderr
    assert "Traceback" not in process.stderr
    assert not output_dir.exists()
