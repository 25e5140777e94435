"""Writes small CIFAR-10 look-alikes in the official "python version" on-disk format.

The official batch files were written by Python 2: pickles (protocol 2) whose strings are
byte strings and whose NumPy arrays are rebuilt through ``numpy.core.multiarray``.
``Python2Pickler`` writes exactly those opcodes, so the tests read what users download.
"""

import os
import pickle
import struct
import tarfile

import numpy as np

BATCH_FILES = [
    "data_batch_1",
    "data_batch_2",
    "data_batch_3",
    "data_batch_4",
    "data_batch_5",
    "test_batch",
]
CLASS_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


class Python2Pickler(pickle._Pickler):
    """Pickles as Python 2's cPickle did: every string a byte string, numpy.core globals."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_byte_string(self, obj):
        if isinstance(obj, str):
            obj = obj.encode("latin1")
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_byte_string
    dispatch[str] = save_byte_string

    def save_global(self, obj, name=None):
        module = getattr(obj, "__module__", "")
        if module.startswith("numpy._core"):
            qualified = f"{module.replace('numpy._core', 'numpy.core')}\n{obj.__name__}\n"
            self.write(pickle.GLOBAL + qualified.encode("ascii"))
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def python2_pickle(obj):
    import io

    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def synthetic_images(labels, seed):
    """Noisy pictures whose colour and stripe direction depend on the class: learnable."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 80, size=(len(labels), 32, 32, 3)).astype(np.int32)
    for index, label in enumerate(labels):
        images[index, :, :, label % 3] += 120
        if label >= 5:
            images[index, ::4, :, :] += 50  # horizontal stripes
        if label % 2:
            images[index, :, ::4, :] += 50  # vertical stripes
    return np.clip(images, 1, 254).astype(np.uint8)  # 0 and 255 unused: a stretch shows


def batch_record(images, labels, name):
    return {
        b"batch_label": name.encode(),
        b"labels": [int(label) for label in labels],
        b"data": np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072)),
        b"filenames": [f"{index:05d}.png".encode() for index in range(len(images))],
    }


def write_cifar10(root, per_batch=60, test_size=100, seed=0):
    """Write ROOT/cifar-10-batches-py with five training batches and a test batch."""
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index, name in enumerate(BATCH_FILES):
        size = test_size if name == "test_batch" else per_batch
        labels = np.arange(size) % 10
        rng.shuffle(labels)
        images = synthetic_images(labels, seed=seed * 100 + index)
        with open(os.path.join(folder, name), "wb") as batch_file:
            batch_file.write(python2_pickle(batch_record(images, labels, name)))
    with open(os.path.join(folder, "batches.meta"), "wb") as meta_file:
        meta_file.write(
            python2_pickle(
                {
                    b"label_names": [c.encode() for c in CLASS_NAMES],
                    b"num_cases_per_batch": per_batch,
                    b"num_vis": 3072,
                }
            )
        )
    return folder


def write_archive(folder, archive_path):
    """Pack a cifar-10-batches-py folder as the official cifar-10-python.tar.gz."""
    with tarfile.open(archive_path, "w:gz") as archive:
        archive.add(folder, arcname="cifar-10-batches-py")
    return archive_path
