"""--data-dir: a copy is read only if it is the official download, checked by its digests,
or if the user vouches for it with --trust-data; then a damaged one still gets one line.

Most of these run the tutorial's own reader in-process (found by name in the script), so
that each case takes milliseconds; the ones that matter on the command line run it whole.
"""

import hashlib
import os
import pickle
import re
import shutil
import sys
import tarfile
import tracemalloc
import zlib

import numpy as np
import pytest

from cifar_files import batch_record, python2_pickle, write_archive
from conftest import ROOT, describe, run_tutorial, tutorial_definitions

READER = ["ARCHIVE_SHA256", "BATCH_MD5", "digest", "not_official", "read_batch"]
READER += ["load_local_cifar10"]


def reader(trust_data, **digests):
    """The tutorial's load_local_cifar10, with --trust-data as given, and digests replaced."""
    namespace = tutorial_definitions(
        *READER, os=os, np=np, hashlib=hashlib, pickle=pickle, tarfile=tarfile
    )
    namespace.update(trust_data=trust_data, **digests)
    return namespace["load_local_cifar10"]


def official_digests(batches_folder, archive):
    """Digests that make this copy "the official download", as the real ones do the real."""
    md5 = {name: hashlib.md5((batches_folder / name).read_bytes()).hexdigest()
           for name in os.listdir(batches_folder) if name != "batches.meta"}  # fmt: skip
    return {"BATCH_MD5": md5, "ARCHIVE_SHA256": hashlib.sha256(archive.read_bytes()).hexdigest()}


@pytest.fixture
def copy(tiny_cifar10, tmp_path):
    """A copy of the tiny data: its batches folder, and the archive of it."""
    folder = tmp_path / "cifar-10-batches-py"
    shutil.copytree(tiny_cifar10 / "cifar-10-batches-py", folder)
    archive = tmp_path / "cifar-10-python.tar.gz"
    write_archive(str(folder), str(archive))
    return folder, archive


def test_the_archive_digest_is_the_one_keras_checks():
    """A typo here would refuse every learner's download: compare with the installed Keras."""
    import keras.src.datasets.cifar10 as keras_cifar10

    script = open(os.path.join(ROOT, "train_cifar10.py"), encoding="utf-8").read()
    ours = re.search(r'^ARCHIVE_SHA256 = "([0-9a-f]{64})"$', script, re.MULTILINE)[1]
    keras_source = open(keras_cifar10.__file__, encoding="utf-8").read()
    assert re.findall(r'"([0-9a-f]{64})"', keras_source) == [ours]
    md5s = reader(False).__globals__["BATCH_MD5"]
    assert list(md5s) == [f"data_batch_{n}" for n in range(1, 6)] + ["test_batch"]
    assert all(re.fullmatch(r"[0-9a-f]{32}", md5) for md5 in md5s.values())


@pytest.mark.parametrize("form", ["batches folder", "parent folder", "archive"])
def test_an_official_copy_is_read_in_each_form_without_trust(copy, form):
    folder, archive = copy
    path = {"batches folder": folder, "parent folder": folder.parent, "archive": archive}[form]
    (x_train, y_train), (x_test, y_test) = reader(False, **official_digests(folder, archive))(
        str(path)
    )
    assert x_train.shape == (300, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (300, 1) and x_test.shape == (100, 32, 32, 3)
    with open(folder / "data_batch_1", "rb") as batch_file:
        first = pickle.load(batch_file, encoding="bytes")
    rows = first[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert (x_train[:60] == rows).all() and list(y_train[:60, 0]) == first[b"labels"]


@pytest.mark.parametrize("form", ["folder", "archive"])
def test_an_unofficial_copy_is_refused_and_says_how_to_read_it_anyway(copy, form):
    folder, archive = copy
    with pytest.raises(ValueError) as refused:
        reader(False)(str(folder if form == "folder" else archive))
    message = str(refused.value)
    assert "not the official" in message and "pickles, which can run code" in message
    assert "--trust-data" in message and "\n" not in message
    assert ("unpack it" in message) == (form == "archive")


def test_one_changed_batch_file_makes_the_copy_unofficial(copy):
    folder, archive = copy
    digests = official_digests(folder, archive)
    (folder / "data_batch_3").write_bytes((folder / "data_batch_3").read_bytes() + b" ")
    with pytest.raises(ValueError, match=r"\(data_batch_3 differ\)"):
        reader(False, **digests)(str(folder))


class RunsCode:
    """Unpickling this calls os.system: what a malicious "dataset" would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_runs_code_is_never_opened_without_trust(copy, tmp_path):
    folder, _ = copy
    marker = tmp_path / "code-was-run"
    (folder / "data_batch_3").write_bytes(
        pickle.dumps({b"data": RunsCode(marker), b"labels": []}, protocol=2)
    )
    output_dir = tmp_path / "out"
    process = run_tutorial("--data-dir", folder, "--output-dir", output_dir, trust=False)
    assert process.returncode == 1, describe(process)
    assert not marker.exists(), "the pickle ran its code"
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {folder}: not the official"), lines
    assert "--trust-data" in lines[0] and "Traceback" not in process.stderr
    assert not output_dir.exists()


def damage(kind, folder, archive):
    """Damage the copy as named; return the path to read and words the error must hold."""
    pictures, labels = np.zeros((60, 32, 32, 3), np.uint8), np.arange(60) % 10
    record = batch_record(pictures, labels, "data_batch_2")
    if kind == "missing batch file":
        (folder / "data_batch_4").unlink()
        return folder, ["data_batch_4"]
    if kind == "truncated archive":
        archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
        return archive, ["Compressed file ended"]
    if kind == "not an archive":
        archive.write_text("<html>404 Not Found</html>")
        return archive, ["could not be opened"]
    if kind == "truncated pickle":
        record = (folder / "data_batch_2").read_bytes()[:5000]
    elif kind == "random bytes":
        record = np.random.default_rng(0).bytes(5000)
    elif kind == "wrong shape":
        record[b"data"] = record[b"data"][:, :1000]
    elif kind == "wrong dtype":
        record[b"data"] = record[b"data"].astype(np.float32)
    elif kind == "label out of range":
        record[b"labels"][7] = 10
    elif kind == "no labels":
        record[b"data"], record[b"labels"] = record[b"data"][:0], []
    elif kind == "not a dictionary":
        record = [1, 2, 3]
    data = record if isinstance(record, bytes) else python2_pickle(record)
    (folder / "data_batch_2").write_bytes(data)
    return folder, ["data_batch_2 is not a readable CIFAR-10 batch file"]


KINDS = ["missing batch file", "truncated archive", "not an archive", "truncated pickle"]
KINDS += ["random bytes", "wrong shape", "wrong dtype", "label out of range", "no labels"]
KINDS += ["not a dictionary"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_trusted_copy_is_refused_with_one_line(copy, kind):
    folder, archive = copy
    path, words = damage(kind, folder, archive)
    with pytest.raises((ValueError, OSError, EOFError, tarfile.TarError)) as refused:
        reader(True)(str(path))
    message = " ".join(str(refused.value).split())
    for word in words:
        assert word in message, (word, message)


def test_on_the_command_line_a_damaged_copy_is_one_line_and_nothing_written(copy, tmp_path):
    path, words = damage("truncated archive", *copy)
    output_dir = tmp_path / "out"
    process = run_tutorial("--data-dir", path, "--output-dir", output_dir)
    assert process.returncode == 1, describe(process)
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), process.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert not output_dir.exists()


def test_a_trusted_archive_without_a_batch_file_is_one_line_naming_it(copy):
    """The archive's files are read by their official names: one missing is named."""
    folder, archive = copy
    (folder / "data_batch_4").unlink()
    write_archive(str(folder), str(archive))
    names = ["load_cifar10", *READER]
    namespace = tutorial_definitions(
        *names, os=os, sys=sys, np=np, hashlib=hashlib, pickle=pickle, tarfile=tarfile, zlib=zlib
    )
    namespace["trust_data"] = True
    with pytest.raises(SystemExit) as stopped:
        namespace["load_cifar10"](str(archive))
    assert stopped.value.code.startswith(f"error: {archive}: ")
    assert "cifar-10-batches-py/data_batch_4' not found" in stopped.value.code


def test_a_missing_data_dir_is_one_line(tmp_path):
    load_cifar10 = tutorial_definitions("load_cifar10", os=os, sys=sys)["load_cifar10"]
    with pytest.raises(SystemExit) as stopped:
        load_cifar10(str(tmp_path / "nowhere"))
    assert stopped.value.code == f"error: {tmp_path / 'nowhere'}: no such file or folder"


def test_digests_read_in_chunks_so_memory_stays_flat(tmp_path):
    """A user's 400 MB file (sparse here) is hashed with a few MB of memory, not read whole."""
    big = tmp_path / "cifar-10-python.tar.gz"
    with open(big, "wb") as sparse:
        sparse.truncate(400_000_000)
    expected = hashlib.sha256()
    for _ in range(400):
        expected.update(bytes(1_000_000))
    digest = reader(False).__globals__["digest"]
    tracemalloc.start()
    try:
        assert digest(str(big), "sha256") == expected.hexdigest()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, f"{peak / 1e6:.0f} MB to hash a 400 MB file"
