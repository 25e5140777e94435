# %% [markdown]
# # Train a convolutional network on CIFAR-10 with Keras
#
# **Date created:** 2026-11-28<br>
# **Last modified:** 2026-11-30<br>
# **Description:** A small convolutional network learns to recognise the ten classes of
# CIFAR-10, trained from scratch with RMSprop.<br>
# **Accelerator:** none needed (2 CPU cores will do, see step 1); a GPU is faster.
#
# **What you will learn:** how a convolutional neural network (CNN) learns to tell apart
# ten kinds of small colour pictures: aeroplanes, cars, birds, cats, deer, dogs, frogs,
# horses, ships and trucks. You will load the CIFAR-10 dataset and look at it, set some
# pictures aside for validation, build a network from `Conv2D`, `MaxPooling2D`, `Dropout`
# and `Dense` layers, train it with the RMSprop optimizer, measure it once on pictures it
# has never seen, see where it goes wrong, and use it on a picture file.
#
# **The steps:**
#
# 1. Setup: the settings you may change, and the imports
# 2. Load CIFAR-10, and set aside a validation set
# 3. Look at the data
# 4. Prepare the data: one-hot labels and a stream of augmented batches
# 5. Build the model
# 6. Compile the model: loss, optimizer, metric
# 7. Train the model
# 8. Evaluate it on the test set, once
# 9. Plot the learning curves, and what the first layer learned
# 10. Save the model and use it on a picture file
#
# **How to run it:** `pip install -r requirements.txt`, then `python train_cifar10.py`.
# It downloads CIFAR-10 (170 MB, once), trains the network and writes its plots, metrics
# and model to `outputs/`. Offline, point it at a copy you downloaded elsewhere with
# `--data-dir PATH`; `--help` lists every flag. Each `# %%` block is a notebook cell (VS
# Code, PyCharm, JupyterLab with Jupytext), and `train_cifar10.ipynb` is the same tutorial
# as a notebook. Cells tagged *housekeeping* (folded in the notebook) make the script safe
# to run for real: a first reading can skip every one of them. The story uses a few
# names they define (`backend`, `load_local_cifar10`, `DataError`, `work_file`,
# `save_figure`, `SaveProgress`, `epochs_saved`, `history_rows`), each said where it is
# first used.

# %% [markdown]
# ## 1. Setup
#
# A network's **weights** are the numbers it learns: at first random, then nudged after
# every batch of pictures so that its answers get better. An **epoch** is one pass over
# all the training pictures. The network looks at them in **batches**: it predicts a whole
# batch, measures its mistakes, and adjusts its weights once per batch. The **learning
# rate** sets how big each adjustment is. The **seed** fixes the random choices (starting
# weights, order of pictures), so that two runs with TensorFlow on the same computer give
# the same numbers.
#
# Batches of 128 keep a processor busy (on 2 cores, batches of 32 trained about 30%
# fewer pictures per second), and 40 epochs still make over 14,000 adjustments: 352
# batches from the 45,000 training pictures in each epoch. Forty did better than thirty
# (see "What to try next"). On the 2-core processor of the committed run, 40 epochs took
# about 59 minutes (about 88 seconds an epoch) and reached about 82% test accuracy; a GPU,
# or a processor that computes fast in 16 bits (the `precision` setting), is faster. (The
# tag `parameters` on the next cell lets notebook tools such as papermill set these
# names.)

# %% tags=["parameters"]
epochs = 40
batch_size = 128
learning_rate = 0.001
seed = 42
data_dir = None  # None: download CIFAR-10; or the path of a local copy
output_dir = "outputs"  # where plots, metrics and the model are written
precision = "auto"  # or "float32", "mixed_bfloat16", "mixed_float16": see below

# %% [markdown]
# Housekeeping (skip on a first reading): the command line may override the settings
# above (`python train_cifar10.py --epochs 5`), and a mistyped flag is reported at once,
# before the slow imports.

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
import argparse
import sys


def number_in(kind, low, high):
    """An argparse type: a number of the given kind, from low to high."""

    def parse(text):
        if not low <= kind(text) <= high:  # also refuses nan
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {text}")
        return kind(text)

    return parse


parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
add = parser.add_argument
add("--epochs", type=number_in(int, 1, 10_000), default=epochs, help="passes over the pictures")
add("--batch-size", type=number_in(int, 1, 65_536), default=batch_size, help="pictures per step")
add("--learning-rate", type=number_in(float, 1e-9, 1e9), default=learning_rate, help="its peak")
add("--seed", type=number_in(int, 0, 2**32 - 1), default=seed, help="for every random choice")
add("--data-dir", default=data_dir, help="cifar-10-python.tar.gz or its folder; None: download")
add("--output-dir", default=output_dir, help="where plots, metrics and the model go")
precisions = ["auto", "float32", "mixed_bfloat16", "mixed_float16"]
add("--precision", default=precision, choices=precisions, help="auto: the fastest here")
in_notebook = "ipykernel" in sys.modules
args = parser.parse_args([] if in_notebook else None)
globals().update(vars(args))  # each flag replaces the setting of the same name

# %% [markdown]
# Housekeeping (skip on a first reading): Ctrl-C or `kill` stops the run with one line
# saying what is saved (exit status 130).

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
import os
import signal

epochs_saved = None  # before training
real_stderr = os.dup(2)  # for the stop message, even while TensorFlow's loading is hushed


def stop(signal_number, frame):
    saved, next_epoch = epochs_saved, (epochs_saved or 0) + 1
    message = "Stopped before training began; run the same command again to start."
    if saved == epochs:
        message = "Stopped after training, with every epoch saved. Run the same command "
        message += "again to write the outputs (it will not train again)."
    elif saved is not None:
        message = f"Stopped during epoch {next_epoch} of {epochs}: {saved} of {epochs} epochs "
        message += f"are saved, epoch {next_epoch}'s progress is lost. Run the same command again."
    os.write(real_stderr, f"\n{message}\n".encode())
    os._exit(130)  # at once: every file is either complete or in outputs/in_progress/


if not in_notebook:
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

# %% [markdown]
# Housekeeping (skip on a first reading): a failed read or write stops the run with one
# line, not a traceback, and every printed line reaches a log file at once.


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def one_line_errors(kind, error, traceback):
    if issubclass(kind, OSError):  # a full disk, a folder where a file should go, ...
        print(f"error: {error}", file=sys.stderr)
    else:
        sys.__excepthook__(kind, error, traceback)


if not in_notebook:
    sys.excepthook = one_line_errors
    sys.stdout.reconfigure(line_buffering=True)  # each line at once, even into a log file

# %% [markdown]
# Housekeeping (skip on a first reading): check the Keras backend, and keep TensorFlow
# quiet. Its libraries print a few notes while they load, before any setting can stop
# them ("Could not find cuda drivers" and the like): we hold stderr back during that
# import, then pass on every line that is not such a note.

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
import importlib.util
import re
import tempfile

backend = os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if backend not in ("tensorflow", "jax", "torch") or not importlib.util.find_spec(backend):
    sys.exit(f"error: KERAS_BACKEND={backend}: use tensorflow, jax or torch, installed")
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # TensorFlow's C++ log: notes for its makers
LOADING_NOTE = re.compile(r"WARNING: All log messages before absl|I\d{4} .*(cudart_stub|port)\.cc")
with tempfile.TemporaryFile("w+", errors="replace") as held_back:
    os.dup2(held_back.fileno(), 2)
    try:
        import tensorflow  # noqa: F401 (imported again below, at no cost)
    finally:
        sys.stderr.flush()
        os.dup2(real_stderr, 2)
        held_back.seek(0)
        sys.stderr.write("".join(line for line in held_back if not LOADING_NOTE.match(line)))

# %% [markdown]
# Now the libraries. Keras builds and trains the network; TensorFlow feeds it the data
# and does the arithmetic, unless you name another backend in the `KERAS_BACKEND`
# environment variable (the cell above read it into `backend`). NumPy holds the pictures
# as arrays; matplotlib draws them.

# %%
import math
import os
import sys

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from keras import layers
from matplotlib.ticker import MaxNLocator

print("Keras", keras.__version__, "on the", backend, "backend")

# %% [markdown]
# **Repeatable numbers.** The `seed` from the settings goes to every random number
# generator at once (Python's, NumPy's and the backend's). With TensorFlow, *op
# determinism* also makes each operation add up its numbers in the same order every time
# (in floating point, the order changes the last digits), which costs some speed (see
# step 4).

# %%
keras.utils.set_random_seed(seed)
if backend == "tensorflow":
    tf.config.experimental.enable_op_determinism()

# %% [markdown]
# Housekeeping (skip on a first reading): speed. *Mixed precision* computes in 16 bits
# where the processor does that fast (on `auto`: a GPU, or a CPU with bfloat16 such as
# AMD Zen 4, except on JAX, where it measured slower) and keeps the weights in 32 bits.

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
if precision == "auto":
    if backend == "torch":
        import torch

        gpu = torch.cuda.is_available()
    else:
        gpu = any(device.startswith("gpu") for device in keras.distribution.list_devices())
    with open("/proc/cpuinfo" if os.access("/proc/cpuinfo", os.R_OK) else os.devnull) as cpuinfo:
        bfloat16 = "_bf16" in cpuinfo.read() and backend != "jax"  # avx512_bf16 or amx_bf16
    precision = "mixed_float16" if gpu else "mixed_bfloat16" if bfloat16 else "float32"
keras.mixed_precision.set_global_policy(precision)
print("Precision:", precision)

# %% [markdown]
# ## 2. Load CIFAR-10
#
# CIFAR-10 holds 60,000 colour pictures of 32×32 pixels, 6,000 of each of ten classes,
# split into 50,000 for training and 10,000 for testing.
# `keras.datasets.cifar10.load_data()` downloads it once into `~/.keras/datasets` and
# returns it as NumPy arrays.
#
# Housekeeping (skip on a first reading): `--data-dir` reads a local copy instead
# (`cifar-10-python.tar.gz`, the `cifar-10-batches-py` folder it unpacks to, or the
# folder holding that one). Its files are Python *pickles*, which can carry code to run,
# so our reader builds only plain values and makes the pictures' array itself from
# checked raw bytes (README: "Without internet").

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
import io
import pickle

BATCH_FILES = [f"data_batch_{number}" for number in range(1, 6)] + ["test_batch"]
LARGEST_BATCH_FILE = 40_000_000  # bytes; the real ones are 31 MB


class DataError(Exception):
    """The local copy of CIFAR-10 is missing a file or holds something else."""


class Recorded:
    """Stands in for a NumPy array or dtype in a pickle: it only records what the file says."""

    args, state = (), None

    def __init__(self, *args):
        self.args = args

    def __setstate__(self, state):
        self.state = state


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray"):
            if name in ("_reconstruct", "ndarray", "dtype"):
                return Recorded
        if (module, name) == ("_codecs", "encode"):  # how byte strings are pickled
            return lambda text, encoding="latin1": text.encode("latin1")
        raise pickle.UnpicklingError(f"refused to load {module}.{name}, not in a CIFAR-10 file")


# %% [markdown]
# Housekeeping (skip on a first reading): each of the six files (CIFAR-10 calls them
# batches) holds a dictionary: `b"data"`, one row of 3,072 bytes per picture (its 1,024
# red values, then 1,024 green and 1,024 blue), and `b"labels"`, one class number 0-9
# per picture. We check both, then reshape each row to 32×32×3.


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def parse_batch(name, data):
    try:
        batch = SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
        _, shape, dtype, fortran_order, raw = batch[b"data"].state
        if dtype.args[0] not in ("u1", b"u1") or fortran_order or type(raw) is not bytes:
            raise ValueError("b'data' is not an array of bytes")
        images, labels = np.frombuffer(raw, np.uint8).reshape(shape), batch[b"labels"]
        if type(labels) is not list or not all(type(label) is int for label in labels):
            raise ValueError("b'labels' is not a list of class numbers")
    except Exception as error:  # a damaged or hostile pickle can fail in many ways
        message = " ".join(f"{type(error).__name__}: {error}".split())  # on one line
        raise DataError(f"{name}: not a CIFAR-10 batch file ({message})") from None
    if images.ndim != 2 or images.shape[1] != 3072 or len(images) == 0:
        raise DataError(f"{name}: b'data' should be uint8 rows of 3072 pixel values")
    labels = np.array(labels)
    if labels.shape != (len(images),) or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{name}: b'labels' should be one class number 0-9 per picture")
    return images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.reshape(-1, 1)


# %% [markdown]
# Housekeeping (skip on a first reading): read the six batch files from a folder,
# refusing anything larger than a real one before reading it all.


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def read_folder(folder):
    files = {}
    for name in filter(lambda name: os.path.lexists(f"{folder}/{name}"), BATCH_FILES):
        if not os.path.isfile(f"{folder}/{name}"):
            raise DataError(f"{folder}/{name}: not a regular file")
        try:
            with open(f"{folder}/{name}", "rb") as batch_file:
                files[name] = batch_file.read(LARGEST_BATCH_FILE + 1)
        except OSError as error:
            raise DataError(f"{folder}/{name}: cannot read it ({error.strerror})") from None
        if len(files[name]) > LARGEST_BATCH_FILE:
            raise DataError(f"{folder}/{name}: larger than any CIFAR-10 batch file (40 MB)")
    return files


# %% [markdown]
# Housekeeping (skip on a first reading): the same from the archive, with the same
# limit; only members under `cifar-10-batches-py/` count.


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
import lzma
import tarfile
import zlib

ARCHIVE_MEMBERS = {f"cifar-10-batches-py/{name}": name for name in BATCH_FILES}


def read_archive(path):
    files = {}
    try:
        with open(path, "rb") as raw_file, tarfile.open(fileobj=raw_file) as archive:
            for count, member in enumerate(archive, start=1):
                name = ARCHIVE_MEMBERS.get(member.name.removeprefix("./"))
                if count > 100:  # the real archive has fewer than 10 entries
                    raise DataError(f"{path}: more than 100 entries, not CIFAR-10's archive")
                if name and member.size > LARGEST_BATCH_FILE:
                    raise DataError(f"{path}: {member.name} is larger than any CIFAR-10 batch file")
                if name and member.isfile():
                    files[name] = archive.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as error:
        message = " ".join(str(error).split())  # on one line
        raise DataError(f"{path}: not a readable .tar.gz archive ({message})") from None
    return files


# %% [markdown]
# Housekeeping (skip on a first reading): put the pieces together, five batches for
# training and one for testing.


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def load_local_cifar10(path):
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file or folder")
    if os.path.isdir(path):
        in_path = os.path.lexists(f"{path}/test_batch")
        files = read_folder(path if in_path else f"{path}/cifar-10-batches-py")
    elif not os.path.isfile(path):
        raise DataError(f"{path}: a named pipe (FIFO) or a device, not a file or folder")
    else:
        files = read_archive(path)
    missing = [name for name in BATCH_FILES if name not in files]
    if missing:
        raise DataError(
            f"{path}: no {', '.join(missing)} found; expected the cifar-10-batches-py "
            "folder, the folder holding it, or cifar-10-python.tar.gz"
        )
    batches = [parse_batch(name, files.pop(name)) for name in BATCH_FILES]
    x_train = np.concatenate([images for images, labels in batches[:5]])
    y_train = np.concatenate([labels for images, labels in batches[:5]])
    return (x_train, y_train), batches[5]


# %% [markdown]
# Now load the data: by download, or with `--data-dir` through `load_local_cifar10`, the
# reader above. Any problem with it (a `DataError`) stops the tutorial here, with one line
# saying what is wrong, before any time is spent on training.

# %%
NUM_CLASSES = 10
CLASS_NAMES = "airplane automobile bird cat deer dog frog horse ship truck".split()  # labels 0-9
if data_dir is None:
    data_source = "keras.datasets (download)"
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as error:
        sys.exit(
            f"error: could not download CIFAR-10 ({error}). If this machine is offline, "
            "download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
            "on another one and run: python train_cifar10.py --data-dir PATH"
        )
else:
    data_source = data_dir
    try:
        (x_train, y_train), (x_test, y_test) = load_local_cifar10(data_dir)
    except DataError as error:
        sys.exit(f"error: {error}")

# %% [markdown]
# **A validation set.** We will try settings (epochs, learning rate, ...) and keep what
# works best, and we must not judge them by the test pictures: settings chosen to suit the
# test set flatter it, and its score would no longer tell how the network does on new
# pictures. So we hold out the last 10% of the training pictures (5,000 of 50,000, the same
# ones every run) to *validate* on after each epoch, train on the rest, and look at the
# test set once, at the very end.

# %%
validation_count = max(1, len(x_train) // 10)
x_val, y_val = x_train[-validation_count:], y_train[-validation_count:]
x_train, y_train = x_train[:-validation_count], y_train[:-validation_count]
print("x_train:", x_train.shape, x_train.dtype, "| y_train:", y_train.shape)
print("x_val:  ", x_val.shape, "| x_test:", x_test.shape)

# %% [markdown]
# You should see `x_train: (45000, 32, 32, 3) uint8`: 45,000 pictures, each 32 pixels
# high, 32 wide, with 3 colour values (red, green, blue) per pixel, each a whole number
# from 0 to 255. `y_train` has shape `(45000, 1)`: one class number per picture.
# %% [markdown]
# Housekeeping (skip on a first reading): a run keeps everything it writes in
# `outputs/in_progress/` (watch `history.csv` grow there; `work_file(name)` is a path
# there, `save_figure` saves a plot there) and moves the finished set into `outputs/` at
# the end, so `outputs/` holds one complete run. A run with the same settings resumes
# that folder; other settings clear it.

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
import json
import shutil

OUTPUT_FILES = ["samples.png", "history.csv", "accuracy.png", "loss.png", "metrics.json"]
OUTPUT_FILES += ["confusion_matrix.png", "mistakes.png", "first_layer_filters.png"]
OUTPUT_FILES += ["cifar10_cnn.keras", "test_picture.png", "predictions.png"]
work_dir = os.path.join(output_dir, "in_progress")
run_settings = dict(vars(args), backend=backend, output_dir=None)  # the folder is the run's own
run_settings["data_dir"] = data_dir and os.path.abspath(data_dir)  # however it was typed


def work_file(name):
    return os.path.join(work_dir, name)


def save_figure(fig, name):
    """Save a figure into this run's folder; show it in a notebook, or free its memory."""
    fig.tight_layout()
    fig.savefig(work_file(name), dpi=80)
    if in_notebook:
        plt.show()
    else:
        plt.close(fig)


# %% [markdown]
# Housekeeping (skip on a first reading): before anything is written, check that the
# output folder can take this run's files.

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    sys.exit(f"error: the output folder {output_dir!r} is a file, not a folder")
if os.path.islink(work_dir) or os.path.isfile(work_dir):
    sys.exit(f"error: {work_dir!r} should be a folder that this tutorial manages; move it away")
blocked = [name for name in OUTPUT_FILES if os.path.isdir(os.path.join(output_dir, name))]
if blocked:
    sys.exit(f"error: {os.path.join(output_dir, blocked[0])!r} is a folder, where a file will go")

# %% [markdown]
# Housekeeping (skip on a first reading): resume what an earlier run with the same
# settings left in `outputs/in_progress/`, or clear it, and note this run's settings
# there.

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
if os.path.isdir(work_dir):
    try:
        with open(work_file("settings.json")) as settings_file:
            same_run = json.load(settings_file) == run_settings
    except (OSError, ValueError):
        same_run = False
    if not same_run:
        print(f"{work_dir} holds a run with other settings: starting afresh.")
        shutil.rmtree(work_dir)
try:
    os.makedirs(work_dir, exist_ok=True)
    with open(work_file("settings.json"), "w") as settings_file:
        json.dump(run_settings, settings_file)
except OSError as error:
    sys.exit(f"error: cannot write to the output folder {output_dir!r}: {error.strerror}")


# %% [markdown]
# ## 3. Look at the data
#
# Always look at your data before training on it. Here are the first 48 training
# pictures with their class names. They are tiny and often hard to tell apart even for
# a person, which is what makes CIFAR-10 a good first challenge. (`nearest` draws each
# pixel as a sharp square instead of blurring them together; `save_figure` saves the plot
# into this run's folder and, in a notebook, shows it under the cell.)

# %%
fig, axes = plt.subplots(6, 8, figsize=(12, 9.5))
for ax, picture, label in zip(axes.flat, x_train, y_train[:, 0]):
    ax.imshow(picture, interpolation="nearest")
    ax.set_title(CLASS_NAMES[label], fontsize=10)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("CIFAR-10 training pictures")
save_figure(fig, "samples.png")

# %% [markdown]
# ## 4. Prepare the data
#
# **The loss and one-hot labels.** To learn, the network needs one number that says how
# wrong its answers are: the *loss*. Ours, *categorical cross-entropy*, looks at the
# probability the network gave the right class: near 1, the loss is near 0; near 0, the
# loss is large. The network's last layer outputs ten probabilities, one per class. We
# write each target the same way, as ten numbers: class 3 (cat) becomes
# `[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]`, a 1 for the right class and 0 elsewhere. This is
# *one-hot* encoding. (Keras' `SparseCategoricalCrossentropy` would take the class
# numbers as they are; we write them one-hot because *label smoothing*, explained in
# step 6, changes those ten numbers.)

# %%
y_train_onehot = keras.utils.to_categorical(y_train, NUM_CLASSES)
y_val_onehot = keras.utils.to_categorical(y_val, NUM_CLASSES)
print("Label", y_train[0, 0], "->", y_train_onehot[0])

# %% [markdown]
# **Data augmentation.** With 45,000 pictures the network could simply memorise the
# training set instead of learning what a cat looks like. So each time a picture is
# used, we show a slightly changed copy: flipped left-to-right half of the time and
# shifted by up to 10% of its size (3 pixels). A flipped cat is still a cat, and the
# network now sees many more distinct pictures. Keras' preprocessing layers do this, only
# during training; `Pipeline` chains them in a form `tf.data` can run whatever the
# backend. The shifts are by whole pixels (`interpolation="nearest"`): fractions of a pixel
# would blur the training pictures, while the test pictures stay sharp.

# %%
augment = keras.layers.Pipeline(
    [
        layers.RandomFlip("horizontal", seed=seed, dtype="float32"),
        layers.RandomTranslation(
            0.1, 0.1, fill_mode="reflect", interpolation="nearest", seed=seed, dtype="float32"
        ),
    ],
    name="augment",
)

# %% [markdown]
# **A stream of batches.** `tf.data` turns the arrays into a stream: it shuffles the
# pictures, groups them into batches and augments each batch; `prefetch` lets it prepare
# the next batches while the network trains on the current one (repeatable numbers, set up
# in step 1, cost some of that overlap). The pictures keep their 0-255 values: the model
# itself scales them, so the saved model later takes raw pixels, exactly as they come from
# a photo. `repeat()` makes one endless stream, reshuffled on every pass, for all epochs
# (a fresh stream per epoch sometimes stalled for 5 seconds on 2 cores); `fit` is then
# told how many batches make an epoch.


# %%
def augment_batch(images, labels):
    return augment(images, training=True), labels  # the random layers act only in training


train_dataset = (
    tf.data.Dataset.from_tensor_slices((x_train, y_train_onehot))
    .shuffle(len(x_train), seed=seed)
    .batch(batch_size)
    .repeat()
    .map(augment_batch)
    .prefetch(tf.data.AUTOTUNE)
)
steps_per_epoch = math.ceil(len(x_train) / batch_size)

# %% [markdown]
# ## 5. Build the model
#
# A **convolution** (`Conv2D`) slides a small window, here 3×3 pixels, across the
# picture. At each position it multiplies the pixels under the window by a 3×3×3 block
# of weights, covering all three colours at once, and adds them up into one number. Each
# **filter** is one such block; it learns to respond to one pattern (an edge, a patch of
# colour, later an eye or a wheel), and a layer with 32 filters makes 32 maps of where its
# patterns occur. The next convolution does the same over those 32 maps: its filters are
# 3×3×32 blocks, which combine simple patterns into larger ones. The window slides in two
# directions, across and down, which is why colour pictures use `Conv2D`, not `Conv3D`.
#
# **Padding.** A 3×3 window cannot be centred on the border pixels. With
# `padding="same"` Keras adds a border of zeros so the output keeps the input's size
# (32→32); with the default, `padding="valid"`, the window stays inside and the output
# loses one pixel at each edge (32→30). Each block here uses "same" then "valid", the
# choice of the classic Keras example this network comes from, and one of several that
# work: the first convolution sees the border pixels, and the second trims the maps,
# which saves weights further on (see below).
#
# **Pooling.** `MaxPooling2D(2×2)` keeps the largest value of each 2×2 block, halving
# height and width (30→15): cheaper, and a pattern counts whether it sits at one pixel or
# the next. **Dropout** sets a random 25% (later 50%) of the values to zero for each
# training batch, and scales the others up to keep their sum about the same, so the
# network cannot lean on any single one and must spread what it learns over many, which
# holds up better on new pictures. Like augmentation, it acts only during training.
#
# **Flatten** unrolls the last 6×6×64 maps into one list of 2,304 numbers, and **Dense**
# connects every one of them to every one of 512 *units*: each unit multiplies every input
# by a weight of its own, adds them up and adds one more number, its *bias*. The final
# `Dense(10)` gives one score per class. **Softmax** turns those ten scores into
# probabilities that add up to 1. **ReLU** (`max(0, x)`) after each convolution and the
# first `Dense` layer (the *hidden* layers: neither the input nor the output) lets the
# network learn more than straight-line relationships.
#
# Follow the height and width through the network: 32 (input) → 32 ("same") → 30 ("valid")
# → 15 (pooling) → 15 ("same") → 13 ("valid") → 6 (pooling, rounding down). Because of the
# trimming the maps end at 6×6 rather than 8×8, and the `Dense` layer will take 2,304
# inputs instead of the 4,096 it would take with "same" everywhere: 917,504 fewer weights.
# The sizes (32 and 64 filters, 512 units) are the classic example's. The first layer,
# `Rescaling`, maps the pixel values 0-255 to 0-1, the range in which training works best.
# The last layer computes in `float32` even under mixed precision, so the probabilities
# keep their full accuracy.

# %%
model = keras.Sequential(
    [
        keras.Input(shape=(32, 32, 3)),
        layers.Rescaling(1.0 / 255),
        layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.25),
        layers.Conv2D(64, (3, 3), padding="same", activation="relu"),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32"),
    ],
    name="cifar10_cnn",
)
model.summary()

# %% [markdown]
# The summary lists each layer's output shape and number of weights ("parameters"),
# 1,250,858 in all. Most sit in the first `Dense` layer: 2,304 inputs × 512 units +
# 512 biases = 1,180,160. A convolution needs far fewer, because the same small block of
# weights is reused at every position: the first one has 3×3×3 weights + 1 bias per
# filter, times 32 filters = 896.
#
# ## 6. Compile the model
#
# Compiling chooses how the network learns. After each batch, the backend works out the
# **gradient** of the loss: for every weight, which way and how steeply the loss changes
# when that weight changes. The optimizer then moves every weight a small step downhill.
#
# - The **loss** is the categorical cross-entropy from step 4. With label smoothing of
#   0.1, a tenth of each target is shared out evenly over the ten classes: 0.91 for
#   the right class and 0.01 for the others, so the network is not pushed to be ever
#   more certain of the training pictures, which helps it on new ones: in a 30-epoch
#   trial with batches of 64 (`benchmarks/levers.py`, numbers in
#   `benchmarks/RESULTS.md`), validation accuracy ended at 81.12% with label smoothing
#   and 79.28% without (one core, one seed each). It also means the loss never gets
#   near 0: even answers that match the smoothed targets exactly score about 0.5.
# - The **optimizer**, RMSprop, scales each weight's step by a running average of how
#   large that weight's recent gradients were, so weights with steep, noisy gradients
#   move carefully and flat ones move faster.
# - The **metric**, accuracy, is the fraction of pictures whose most probable class is
#   the right one: the number we care about, reported after each epoch.
#
# The learning rate climbs from a tenth of `learning_rate` to the full value over the
# first two epochs (a *warm-up*: the first, random steps stay small), then falls along a
# cosine curve to zero by the last epoch, so the final epochs make small, careful
# adjustments. (Old examples wrote `RMSprop(lr=..., decay=...)`; Keras 3 uses
# `learning_rate=` and schedule objects like this one.)

# %%
warmup_steps = min(2, epochs) * steps_per_epoch
learning_rate_schedule = keras.optimizers.schedules.CosineDecay(
    initial_learning_rate=learning_rate / 10,
    warmup_target=learning_rate,
    warmup_steps=warmup_steps,
    decay_steps=max(epochs * steps_per_epoch - warmup_steps, 1),
)
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate_schedule),
    loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
    metrics=["accuracy"],
)

# %% [markdown]
# ## 7. Train the model
#
# Housekeeping (skip on a first reading): never lose a run. After every epoch the
# callback `SaveProgress` adds a row to `history.csv` and backs up the weights and
# optimizer state, each to a new file renamed into place (Keras' `BackupAndRestore`
# writes in place, which a stop can spoil), so the same command continues a stopped run
# after its last saved epoch.

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
import csv
import time


def replace_atomically(path, write):
    """Call write(temporary path), then rename the finished file to path."""
    temporary = os.path.join(os.path.dirname(path), ".tmp-" + os.path.basename(path))
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_history(path):
    with open(path, "w", newline="") as history_file:
        writer = csv.DictWriter(history_file, fieldnames=list(history_rows[-1]))
        writer.writeheader()
        writer.writerows(history_rows)


# %% [markdown]
# Housekeeping (skip on a first reading): the callback itself. `fit` calls its methods
# at the start and end of each epoch, and when the validation pass begins.


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
class SaveProgress(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start, self.batch_seconds = time.perf_counter(), None

    def on_test_begin(self, logs=None):  # validation begins: the training batches are done
        self.batch_seconds = time.perf_counter() - self.start

    def on_epoch_end(self, epoch, logs=None):
        global epochs_saved
        if not math.isfinite(logs["loss"]):  # never back up weights that are not numbers
            sys.exit(f"error: the loss became {logs['loss']}; try a smaller --learning-rate")
        seconds = time.perf_counter() - self.start
        row = {"epoch": epoch + 1, **logs, "epoch_seconds": seconds}
        row["batch_seconds"] = self.batch_seconds or seconds
        history_rows.append(row)
        replace_atomically(work_file("history.csv"), write_history)
        replace_atomically(work_file(f"backup-{epoch + 1:05d}.weights.h5"), self.model.save_weights)
        if os.path.exists(work_file(f"backup-{epoch - 1:05d}.weights.h5")):  # keep the last two
            os.remove(work_file(f"backup-{epoch - 1:05d}.weights.h5"))
        epochs_saved = epoch + 1


# %% [markdown]
# Housekeeping (skip on a first reading): restore the newest backup that can be read (a
# damaged one is skipped for the older copy): `epochs_saved` says how many epochs it
# holds, and `fit` starts after them (`initial_epoch`). A resumed run shuffles and
# augments its remaining epochs differently from an unbroken one, so its final numbers
# may differ slightly.

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
import glob

history_rows, epochs_saved = [], 0
backups = sorted(glob.glob(work_file("backup-*.weights.h5")), reverse=True)
model.optimizer.build(model.trainable_variables)
start_state = [variable.numpy() for variable in model.variables + model.optimizer.variables]
for path in backups:
    try:
        model.load_weights(path)
        epochs_saved = int(os.path.basename(path)[7:12])
        break
    except Exception as error:  # damaged or cut short: try the older copy
        print(f"The backup {path} cannot be read ({type(error).__name__}); trying an older one.")
if epochs_saved:
    with open(work_file("history.csv")) as history_file:
        history_rows = list(csv.DictReader(history_file))[:epochs_saved]  # a row per epoch
    then = f"Continuing with epoch {epochs_saved + 1}."
    if epochs_saved == epochs:
        then = "Training is complete."
    print(f"Resuming: {epochs_saved} of {epochs} epochs are saved. {then}")
elif backups:
    print("No backup could be read: starting afresh.")
    for variable, value in zip(model.variables + model.optimizer.variables, start_state):
        variable.assign(value)

# %% [markdown]
# Now train. `model.fit` runs the epochs, feeding the network one batch after another.
# After each epoch it also measures loss and accuracy on the validation pictures, which
# never change the weights, so that we can watch how the network does on pictures it is
# not trained on. *Callbacks* are objects whose methods `fit` calls at set moments, such
# as the end of each batch or epoch: `TerminateOnNaN` stops a run whose loss is no longer
# a number (a learning rate far too large does that); `SaveProgress` saves each finished
# epoch, and `initial_epoch=epochs_saved` makes a resumed run start after the epochs
# already saved.
# In a terminal you see a progress bar; when the output goes to a file, one line per epoch.

# %%
history = model.fit(
    train_dataset,
    epochs=epochs,
    initial_epoch=epochs_saved,
    steps_per_epoch=steps_per_epoch,
    validation_data=(x_val, y_val_onehot),
    callbacks=[keras.callbacks.TerminateOnNaN(), SaveProgress()],
    shuffle=False,  # the stream shuffles already
    verbose=1 if sys.stdout.isatty() else 2,
)

# %% [markdown]
# Read the log like this: `accuracy` and `loss` are measured on the augmented training
# batches while the weights are still changing, and with dropout on; `val_accuracy` and
# `val_loss` on the validation pictures at the end of the epoch, as the network stands.
# That is why validation accuracy can be *higher* than training accuracy: in the committed
# run it was higher after 39 of the 40 epochs. If training accuracy kept climbing while
# validation accuracy fell, the network would be memorising the training pictures:
# *overfitting*. Early on, while the learning rate is high, validation accuracy jumps
# about from one epoch to the next (in the committed run it fell by 8 points at epoch 9
# and was back above its earlier best at epoch 10); it settles as the rate falls.
#
# With the default settings (on CIFAR-10 read from a JPEG-compressed copy, see the
# README), the committed run's validation accuracy was 37.6% after 1 epoch, 61.8% after 5,
# 71.9% after 10 and 81.4% after 40. It flattens towards the end because the learning rate
# falls to zero there, and it stops near 81% rather than higher because the network is
# small (four convolutions, no normalisation layers) and the pictures have only 32×32
# pixels; larger networks reach over 90%. A short run is not the start of a long one: the
# schedule shrinks to fit, so `--epochs 3` ended at 59.80% validation accuracy, while the
# 40-epoch run stood at 56.70% after its third epoch.

# %% [markdown]
# ## 8. Evaluate on the test set, once
#
# **Mirrored averaging.** A cat seen in a mirror is still a cat, and the network was
# trained on mirrored pictures too. So we ask it twice about every picture, once as it is
# and once mirrored left to right, and average the two sets of ten probabilities: where
# one view misleads it, the other often does not. (Changing the pictures at prediction
# time like this is called *test-time augmentation*.) It costs a second pass over the
# pictures and no extra training. We chose it by validation accuracy: in the committed
# run it raised validation accuracy from 81.40% to 82.66%, and the cell below prints your
# run's figures both ways. The accuracies per epoch above are one way; `history_rows`
# holds them, one row of `history.csv` per epoch.


# %%
def predict_both_ways(network, pictures):
    """The mean of the class probabilities of each picture and of its mirror image."""
    mirrored = np.flip(pictures, axis=2)  # axis 2 of (N, height, width, 3): left becomes right
    return (network.predict(pictures, verbose=0) + network.predict(mirrored, verbose=0)) / 2


val_accuracy = float(history_rows[-1]["val_accuracy"])  # the last row of history.csv
val_predictions = predict_both_ways(model, x_val).argmax(axis=1)
val_accuracy_mirrored = float(np.mean(val_predictions == y_val[:, 0]))
print(f"Validation accuracy: {val_accuracy:.2%} one way, {val_accuracy_mirrored:.2%} both ways")

# %% [markdown]
# Training is over and every setting is chosen, so now, and only now, we measure the
# network on the 10,000 test pictures. Each picture gets ten probabilities; the class
# with the highest one is the network's answer.

# %%
probabilities = predict_both_ways(model, x_test)
predicted_classes = probabilities.argmax(axis=1)
true_classes = y_test[:, 0]
test_accuracy = float(np.mean(predicted_classes == true_classes))
test_loss = float(model.loss(keras.utils.to_categorical(y_test, NUM_CLASSES), probabilities))
print(f"Test loss: {test_loss:.4f}")
print(f"Test accuracy: {test_accuracy:.2%}")

# %% [markdown]
# A network that guessed at random would score 10%. With the default settings expect
# about 82%: four pictures in five right, and a few more. (The committed run read a
# JPEG-compressed copy of CIFAR-10; on the official download, expect within a point or
# two of that.) The test loss is the smoothed loss of step 6, which cannot go below
# about 0.5.
#
# Which classes does it mix up? The **confusion matrix** counts, for every true class
# (row), how often the network answered each class (column): the diagonal holds the right
# answers, everything else a mistake.

# %%
confusion = tf.math.confusion_matrix(true_classes, predicted_classes, NUM_CLASSES).numpy()
for name, right, count in zip(CLASS_NAMES, confusion.diagonal(), confusion.sum(axis=1)):
    print(f"{name:>10}: {right / count:.1%} of {count} right")

# %%
fig, ax = plt.subplots(figsize=(8, 7))
ax.imshow(confusion, cmap="Blues")
for (row, column), count in np.ndenumerate(confusion):
    color = "white" if count > confusion.max() / 2 else "black"
    ax.text(column, row, count, ha="center", va="center", color=color, fontsize=9)
ax.set_xticks(range(NUM_CLASSES), CLASS_NAMES, rotation=45, ha="right")
ax.set_yticks(range(NUM_CLASSES), CLASS_NAMES)
ax.set(xlabel="predicted class", ylabel="true class", title="Test pictures per answer")
save_figure(fig, "confusion_matrix.png")

# %% [markdown]
# In the committed run cars, frogs, trucks and ships were recognised best; cats and birds
# worst, and cats and dogs, which share shapes and colours, were confused with each other
# most. Here are the mistakes the network was surest of: some are hard even for a person,
# and a few test labels are simply wrong.

# %%
wrong = np.flatnonzero(predicted_classes != true_classes)
surest_mistakes = wrong[np.argsort(-probabilities[wrong].max(axis=1))][:8]
fig, axes = plt.subplots(2, 4, figsize=(10, 6.4))
for ax, index in zip(axes.flat, surest_mistakes):
    ax.imshow(x_test[index], interpolation="nearest")
    answer = f"{CLASS_NAMES[predicted_classes[index]]} {probabilities[index].max():.0%}"
    ax.set_title(f"said {answer}\ntrue: {CLASS_NAMES[true_classes[index]]}", fontsize=12)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("The test pictures it got wrong most confidently")
save_figure(fig, "mistakes.png")

# %% [markdown]
# ## 9. Plot the learning curves, and what the first layer learned
#
# The curves tell the story of the training. `history.csv` holds the numbers `fit`
# printed after every epoch, and `history_rows` the same rows in memory (`fit` also
# returns them, in `history.history`, but only for the epochs of this session, and a run
# may have been resumed).

# %%
epoch_log = {name: np.array([float(row[name]) for row in history_rows]) for name in history_rows[0]}


def plot_curves(metric, scale, unit):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    epoch = epoch_log["epoch"]
    ax.plot(epoch, scale * epoch_log[metric], "o-", markersize=3, label="training")
    ax.plot(epoch, scale * epoch_log["val_" + metric], "o-", markersize=3, label="validation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
    ax.set(title=f"{metric.capitalize()} per epoch", xlabel="epoch", ylabel=unit)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, f"{metric}.png")


plot_curves("accuracy", 100, "accuracy (%)")
plot_curves("loss", 1, "loss")

# %% [markdown]
# In `accuracy.png` both curves rise quickly over the first epochs and then flatten; in
# `loss.png` both fall. Curves that stay close together mean the network generalises:
# what it learned on the training pictures holds on new ones.
#
# **What the first layer learned.** Each of the 32 filters of the first convolution is a
# 3×3×3 block of weights, which we can draw as a 3×3 colour patch. Some are light on one
# side and dark on the other (they respond to edges in that direction), some lean to one
# colour (they respond to it); with only 3×3 pixels, many look like noise.

# %%
first_convolution = model.layers[1]  # model.layers[0] is Rescaling; Input is not a layer
kernels = keras.ops.convert_to_numpy(first_convolution.kernel)  # Keras calls its weights kernel
kernels = (kernels - kernels.min()) / (kernels.max() - kernels.min())  # to 0-1 for drawing
fig, axes = plt.subplots(4, 8, figsize=(8, 4.6))
for ax, index in zip(axes.flat, range(kernels.shape[-1])):
    ax.imshow(kernels[:, :, :, index], interpolation="nearest")
    ax.axis("off")
fig.suptitle("The 32 filters of the first convolution")
save_figure(fig, "first_layer_filters.png")

# %% [markdown]
# ## 10. Save the model and use it
#
# The saved file holds the architecture, the weights and the optimizer's state. Because
# scaling is part of the model, it takes raw pixels: an array of shape (N, 32, 32, 3) with
# values 0-255, and returns N rows of 10 class probabilities for the pictures as given;
# for step 8's mirrored average, pass it to `predict_both_ways`, as the cells below do.
# We save it into this run's folder (`work_file` gives a path there) and load it back
# just as another program would.

# %%
model.save(work_file("cifar10_cnn.keras"))
loaded_model = keras.models.load_model(work_file("cifar10_cnn.keras"))

# %% [markdown]
# **Classify a picture file.** We write one test picture to a PNG file (`scale=False`
# keeps its pixels exactly as they are), then do what you would do with a photo of your
# own: load it at 32×32 pixels (`box` averages the pixels each new one covers, the right
# way to shrink a photo), and print the three most probable classes. To try your own, set
# `picture_file` to its path; it works best with one object filling a square frame (a
# photo of another shape is squeezed into a square). The network always answers with one
# of its ten classes, even for a photo of none. Running the script again trains a new
# network: to classify more photos later, load the saved model in a few lines of your own,
# as the README shows.

# %%
keras.utils.save_img(work_file("test_picture.png"), x_test[0], scale=False)
picture_file = work_file("test_picture.png")  # or the path of a photo of your own

picture = keras.utils.load_img(picture_file, target_size=(32, 32), interpolation="box")
picture_probabilities = predict_both_ways(loaded_model, np.array([picture]))[0]
print(os.path.basename(picture_file))
for class_index in np.argsort(picture_probabilities)[::-1][:3]:
    print(f"{CLASS_NAMES[class_index]:>10}: {picture_probabilities[class_index]:.1%}")

# %% [markdown]
# And the first twelve test pictures with the network's answers: ✓ right, ✗ wrong.

# %%
predicted = predict_both_ways(loaded_model, x_test[:12]).argmax(axis=1)
fig, axes = plt.subplots(2, 6, figsize=(12, 5.2))
for ax, picture, guess, true in zip(axes.flat, x_test, predicted, y_test[:, 0]):
    ax.imshow(picture, interpolation="nearest")
    title = (
        f"✓ {CLASS_NAMES[guess]}"
        if guess == true
        else f"✗ {CLASS_NAMES[guess]}\n(true: {CLASS_NAMES[true]})"
    )
    ax.set_title(title, fontsize=13, color="green" if guess == true else "red")
for ax in axes.flat:
    ax.axis("off")
save_figure(fig, "predictions.png")

# %% [markdown]
# Housekeeping (skip on a first reading): the results go to `metrics.json`, with the
# settings and library versions, so that runs can be compared later.

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
import platform

versions = {module.__name__: module.__version__ for module in (tf, keras, np)}
metrics = {
    "test_accuracy": test_accuracy,
    "test_loss": test_loss,
    "validation_accuracy": val_accuracy,
    "validation_accuracy_mirrored": val_accuracy_mirrored,
    "per_class_accuracy": {
        name: float(right / count) if count else None
        for name, right, count in zip(CLASS_NAMES, confusion.diagonal(), confusion.sum(axis=1))
    },
    "confusion_matrix": confusion.tolist(),
    "epochs_completed": len(history_rows),
    "train_seconds": round(float(epoch_log["epoch_seconds"].sum()), 1),
    "images_per_second": round(
        len(history_rows) * len(x_train) / float(epoch_log["batch_seconds"].sum()), 1
    ),
    **{key: run_settings[key] for key in ("batch_size", "learning_rate", "seed", "backend")},
    "precision": precision,
    "data_source": data_source,
    "versions": dict(versions, python=platform.python_version()),
}
with open(work_file("metrics.json"), "w") as metrics_file:
    json.dump(metrics, metrics_file, indent=2, allow_nan=False)

# %% [markdown]
# Housekeeping (skip on a first reading): the run is complete, so move its files into
# `outputs/` together and delete `outputs/in_progress/`: running the same command again
# starts a new run.

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
if not in_notebook:  # finish moving the files, even on Ctrl-C: it takes milliseconds
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
for name in OUTPUT_FILES:
    os.replace(work_file(name), os.path.join(output_dir, name))
shutil.rmtree(work_dir)
print("Wrote", ", ".join(OUTPUT_FILES), "to", output_dir)

# %% [markdown]
# ## What to try next
#
# - **Train longer or shorter.** The default's 40 epochs beat 30: over 30 epochs
#   validation accuracy ended at 80.82% (81.86% mirrored), against 81.40% (82.66%) over 40
#   (`benchmarks/RESULTS.md`). Does `--epochs 60` still gain? A short schedule gains from
#   more, smaller steps: over 15 epochs, validation accuracy ended at 78.52% with
#   `--batch-size 64` and 77.10% with 128 (one-core trials, `benchmarks/RESULTS.md`).
# - **Change the network.** Add a third Conv2D/MaxPooling2D block with 128 filters, or
#   put `layers.BatchNormalization()` after each convolution, and compare the curves.
# - **Change the recipe.** Try `--learning-rate 0.0003` or `0.003`, or another optimizer
#   (`keras.optimizers.Adam`), and judge them by validation accuracy.
# - **Remove the augmentation** (make `augment_batch` return `images, labels` unchanged)
#   and watch the training and validation curves drift apart: overfitting.
# - **Use the model** in another program:
#   `keras.models.load_model("outputs/cifar10_cnn.keras")`, then classify your own photos
#   as in step 10, with the class names of `CLASS_NAMES` (the model returns numbers only).
# - A stopped run resumes only with the same flags, and does not notice edits to the code:
#   delete `outputs/in_progress/` before trying a changed network.
