# %% [markdown]
# # Train a convolutional network on CIFAR-10 with Keras
#
# **What you will learn:** how a convolutional neural network (CNN) learns to tell apart
# ten kinds of small colour pictures: aeroplanes, cars, birds, cats, deer, dogs, frogs,
# horses, ships and trucks. You will load the CIFAR-10 dataset, look at it, build a
# network from `Conv2D`, `MaxPooling2D`, `Dropout` and `Dense` layers, train it with the
# RMSprop optimizer, measure how well it does on pictures it has never seen, and plot how
# its accuracy and loss change while it learns.
#
# **The steps:**
#
# 1. Setup: imports and the settings you may change
# 2. Load CIFAR-10
# 3. Look at the data
# 4. Prepare the data: one-hot labels and a stream of augmented batches
# 5. Build the model
# 6. Compile the model: loss, optimizer, metric
# 7. Train the model
# 8. Evaluate it on the test set
# 9. Plot accuracy and loss
# 10. Save the model and use it on a few test pictures
#
# **What you need:** Python 3.10 or newer and the packages in `requirements.txt`
# (keras 3, tensorflow, numpy, matplotlib): `pip install -r requirements.txt`.
# No GPU is needed; a GPU just makes it faster.
#
# **How to run it:** `python train_cifar10.py` downloads CIFAR-10 (170 MB, once), trains
# the network and writes its plots, metrics and model to `outputs/`. On a machine without
# internet, point it at a copy you downloaded elsewhere: `python train_cifar10.py
# --data-dir PATH`. `python train_cifar10.py --help` lists every flag. The file is also a
# notebook: editors that read the "percent" format (VS Code, PyCharm, Spyder, or
# JupyterLab with Jupytext) show each `# %%` block as a cell you can run on its own, and
# `train_cifar10.ipynb` is the same tutorial as a Jupyter notebook. It runs on any of
# Keras' backends: `KERAS_BACKEND=jax python train_cifar10.py` (or `torch`).

# %% [markdown]
# ## 1. Setup
#
# These are the settings you are most likely to change. An **epoch** is one pass over
# all 50,000 training pictures. The network does not look at them one at a time but in
# **batches**: it predicts a whole batch, measures its mistakes, and adjusts its weights
# once per batch. The **learning rate** sets how big each adjustment is. The **seed**
# fixes the random choices (starting weights, order of pictures), so two runs match.
#
# Why these values: a batch of 128 pictures gives the processor blocks of work big enough
# to keep it busy (on a 2-core processor, the batches of 32 of older examples trained about
# 30% fewer pictures per second), while 30 epochs still make over 11,000 weight updates.
# Batches of 512 (with learning rate 0.002) go through about 11% more pictures per second,
# but make four times fewer updates and learn less from each picture: after about 8
# minutes they had 75% test accuracy where batches of 128 had 79%.
# 30 epochs take about 17 minutes on a 2-core processor and reach about 81% test accuracy.

# %% tags=["parameters"]
epochs = 30
batch_size = 128
learning_rate = 0.001
seed = 42
data_dir = None  # None: download CIFAR-10; or the path of a local copy
output_dir = "outputs"  # where plots, metrics and the model are written
precision = "auto"  # or "float32", "mixed_bfloat16", "mixed_float16": see below

# %% [markdown]
# The same settings can be given on the command line, for example
# `python train_cifar10.py --epochs 5`. In a notebook there is no command line (the
# kernel's own arguments are in `sys.argv`), so there the values above apply: edit them
# in the cell, or let papermill set them, as the cell is tagged `parameters`:
# `papermill train_cifar10.ipynb run.ipynb -p data_dir PATH -p epochs 5`. We read the
# flags before loading TensorFlow, which takes a few seconds, so that a mistyped flag is
# reported at once.

# %%
import argparse
import math
import sys


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


def seed_value(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, got {text}")
    return value


parser = argparse.ArgumentParser(description="Train a convolutional network on CIFAR-10.")
parser.add_argument("--epochs", type=positive_int, default=epochs)
parser.add_argument("--batch-size", type=positive_int, default=batch_size)
parser.add_argument("--learning-rate", type=positive_float, default=learning_rate)
parser.add_argument("--seed", type=seed_value, default=seed)
parser.add_argument(
    "--data-dir",
    default=data_dir,
    help="cifar-10-batches-py folder, the folder holding it, "
    "or cifar-10-python.tar.gz (default: download)",
)
parser.add_argument("--output-dir", default=output_dir)
parser.add_argument(
    "--precision",
    choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"],
    default=precision,
    help="number format for the arithmetic (default: auto)",
)
in_notebook = "ipykernel" in sys.modules
args = parser.parse_args([] if in_notebook else None)
if not in_notebook:
    sys.stdout.reconfigure(line_buffering=True)  # print each epoch at once, even into a log file

epochs, batch_size = args.epochs, args.batch_size
learning_rate, seed = args.learning_rate, args.seed
data_dir, output_dir, precision = args.data_dir, args.output_dir, args.precision

# %% [markdown]
# Now the libraries. Keras builds and trains the network; TensorFlow is the engine
# underneath that does the arithmetic (unless you pick another backend, see below) and
# feeds it the data. NumPy holds the pictures as arrays; matplotlib draws them.

# %%
import io
import json
import os
import pickle
import shutil
import signal
import tarfile
import time
import zlib

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from keras import layers

print("Keras", keras.__version__, "on the", keras.backend.backend(), "backend")

# %% [markdown]
# Before spending any time on training, make sure the output folder can be written:
# better to learn now than after half an hour of training that the plots have nowhere
# to go.

# %%
if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    sys.exit(f"error: the output folder {output_dir!r} is a file, not a folder")
try:
    os.makedirs(output_dir, exist_ok=True)
    probe = os.path.join(output_dir, ".write-test")
    open(probe, "w").close()
    os.remove(probe)
except OSError as error:
    sys.exit(f"error: cannot write to the output folder {output_dir!r}: {error.strerror}")


# %% [markdown]
# Every file this tutorial writes goes through a temporary name first and is renamed
# into place when complete. Renaming is atomic, so if the run is interrupted you find
# either the old file or the new one, never a half-written one.
# `done_with` shows a finished figure in a notebook, or frees its memory in a script.


# %%
def output_path(name):
    return os.path.join(output_dir, name)


def write_atomically(name, write):
    """Call write(temporary_path), then rename the finished file to outputs/name."""
    temporary = output_path(".tmp-" + name)
    write(temporary)
    os.replace(temporary, output_path(name))


def done_with(fig):
    """In a notebook, show the saved figure under the cell; in a script, free its memory."""
    if in_notebook:
        plt.show()
    else:
        plt.close(fig)


# %% [markdown]
# **Precision.** By default computers do this arithmetic with 32-bit floating-point
# numbers (`float32`). Processors with fast 16-bit support compute twice as many numbers
# per step in a 16-bit format, and neural networks barely notice the lost digits.
# Keras' *mixed precision* computes in 16 bits and keeps the weights in 32 bits.
# On `auto` we use `mixed_float16` on an NVIDIA GPU, `mixed_bfloat16` on a processor with
# native bfloat16 instructions (recent Intel Xeon and AMD Zen 4 or newer) when TensorFlow
# does the arithmetic, and plain `float32` everywhere else, where 16 bits would be slower.
#
# Keras 3 runs on three *backends*: TensorFlow (the default), JAX and PyTorch. Pick one
# with the environment variable `KERAS_BACKEND`, e.g. `KERAS_BACKEND=jax python
# train_cifar10.py`; the tutorial's code is the same for all three.

# %%
backend = keras.backend.backend()


def has_gpu():
    if backend == "tensorflow":
        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def cpu_has_bfloat16():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = cpuinfo.read()
    except OSError:  # not Linux: no cheap way to tell, so stay with float32
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


if precision == "auto":
    if has_gpu():
        precision = "mixed_float16"
    elif cpu_has_bfloat16() and backend == "tensorflow":
        precision = "mixed_bfloat16"
    else:
        precision = "float32"
        if cpu_has_bfloat16():
            print(
                f"Note: float32 on the {backend} backend, where bfloat16 is not known to be "
                "faster on this processor; --precision mixed_bfloat16 tries it."
            )
keras.mixed_precision.set_global_policy(precision)
print("Precision:", precision)

# %% [markdown]
# **Reproducibility.** `set_random_seed` seeds Python's, NumPy's and the backend's random
# numbers, and TensorFlow's *op determinism* makes it pick the same order of arithmetic
# every time. Together they make two runs with the same flags on the same CPU produce the
# same numbers, epoch by epoch. Other hardware, library versions or a GPU (whose fastest
# routines add numbers in varying order) can give slightly different results, and so can
# the JAX and PyTorch backends, which have no such switch here.

# %%
keras.utils.set_random_seed(seed)
if backend == "tensorflow":
    tf.config.experimental.enable_op_determinism()
else:
    print(f"Note: runs are seeded, but the {backend} backend may not repeat them exactly.")
print("Seed:", seed)

# %% [markdown]
# ## 2. Load CIFAR-10
#
# CIFAR-10 holds 60,000 colour pictures of 32×32 pixels, 6,000 of each of ten classes,
# split into 50,000 for training and 10,000 for testing. The test pictures are kept
# apart so that we can measure how the network does on pictures it never trained on.
#
# `keras.datasets.cifar10.load_data()` downloads the dataset once into `~/.keras/datasets`
# and returns it as NumPy arrays. With `--data-dir` we read a local copy of the official
# "python version" files instead. Those files are Python *pickles*, a format that can
# hold instructions to run arbitrary code, so our reader accepts only the few
# building blocks a CIFAR-10 file needs (NumPy arrays) and refuses anything else.

# %%
NUM_CLASSES = 10
CLASS_NAMES = "airplane automobile bird cat deer dog frog horse ship truck".split()  # labels 0-9
BATCH_FILES = [f"data_batch_{number}" for number in range(1, 6)] + ["test_batch"]


class DataError(Exception):
    """The local copy of CIFAR-10 is missing a file or holds something else."""


class SafeUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and plain values only; refuses anything that could run code."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}, which a CIFAR-10 file never needs"
            )
        if module == "numpy.core.multiarray":  # NumPy 2 renamed numpy.core to numpy._core
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


# %% [markdown]
# The local copy may be given in any of the three forms people have at hand: the
# `cifar-10-python.tar.gz` archive as downloaded (read directly, without unpacking it),
# the `cifar-10-batches-py` folder it unpacks to, or the folder holding that one.


# %%
def read_local_files(path):
    """Return {file name: bytes} for the six batch files."""
    files = {}
    if os.path.isfile(path):
        try:
            with tarfile.open(path) as archive:
                for member in archive.getmembers():
                    name = os.path.basename(member.name)
                    if member.isfile() and name in BATCH_FILES:
                        files[name] = archive.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
            raise DataError(
                f"{path}: not a readable .tar.gz archive (damaged, cut short, "
                "or another kind of file)"
            ) from error
    elif not os.path.isdir(path):
        raise DataError(f"{path}: no such file or folder")
    else:
        folder = (
            path
            if os.path.isfile(os.path.join(path, "test_batch"))
            else os.path.join(path, "cifar-10-batches-py")
        )
        for name in BATCH_FILES:
            if os.path.isfile(os.path.join(folder, name)):
                with open(os.path.join(folder, name), "rb") as batch_file:
                    files[name] = batch_file.read()
    missing = [name for name in BATCH_FILES if name not in files]
    if missing:
        raise DataError(
            f"{path}: no {', '.join(missing)} found; expected the cifar-10-batches-py "
            "folder, the folder holding it, or cifar-10-python.tar.gz"
        )
    return files


# %% [markdown]
# Each batch file holds a dictionary: `b"data"`, 10,000 rows of 3,072 bytes (the 1,024
# red values of a picture, then its 1,024 green and 1,024 blue values), and `b"labels"`,
# 10,000 class numbers from 0 to 9. We check both before using them, then rearrange each
# row into the 32×32×3 (height, width, colour) layout Keras expects.


# %%
def parse_batch(name, data):
    try:
        batch = SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
        images, labels = batch[b"data"], np.asarray(batch[b"labels"])
    except Exception as error:  # a truncated or hostile pickle can fail in many ways
        message = " ".join(f"{type(error).__name__}: {error}".split())  # on one line
        raise DataError(f"{name}: not a CIFAR-10 batch file ({message})") from error
    if (
        not isinstance(images, np.ndarray)
        or images.dtype != np.uint8
        or images.ndim != 2
        or images.shape[1] != 3072
    ):
        raise DataError(f"{name}: b'data' should be uint8 rows of 3072 pixel values")
    if (
        labels.shape != (len(images),)
        or labels.dtype.kind not in "iu"
        or labels.min(initial=0) < 0
        or labels.max(initial=0) > 9
    ):
        raise DataError(f"{name}: b'labels' should be one class number 0-9 per picture")
    images = images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels.astype("uint8").reshape(-1, 1)


def load_local_cifar10(path):
    files = read_local_files(path)
    batches = [parse_batch(name, files[name]) for name in BATCH_FILES]
    x_train = np.concatenate([images for images, labels in batches[:5]])
    y_train = np.concatenate([labels for images, labels in batches[:5]])
    x_test, y_test = batches[5]
    return (x_train, y_train), (x_test, y_test)


# %% [markdown]
# Now load the data. Any problem with it stops the tutorial here, with one line saying
# what is wrong, before any time is spent on training.

# %%
if data_dir is None:
    data_source = "keras.datasets.cifar10 (download)"
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as error:
        sys.exit(
            f"error: could not download CIFAR-10 ({error}). If this machine is offline, "
            "download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
            "on another one and run: python train_cifar10.py --data-dir PATH"
        )
else:
    data_source = os.path.abspath(data_dir)
    try:
        (x_train, y_train), (x_test, y_test) = load_local_cifar10(data_dir)
    except DataError as error:
        sys.exit(f"error: {error}")

print("x_train:", x_train.shape, x_train.dtype, "| y_train:", y_train.shape)
print("x_test: ", x_test.shape, x_test.dtype, "| y_test: ", y_test.shape)

# %% [markdown]
# You should see `x_train: (50000, 32, 32, 3) uint8`: 50,000 pictures, each 32 pixels
# high, 32 wide, with 3 colour values (red, green, blue) per pixel, each a whole number
# from 0 to 255. `y_train` has shape `(50000, 1)`: one class number per picture.
#
# ## 3. Look at the data
#
# Always look at your data before training on it. Here are the first 48 training
# pictures with their class names. They are tiny and often hard to tell apart even for
# a person, which is what makes CIFAR-10 a good first challenge.

# %%
fig, axes = plt.subplots(6, 8, figsize=(12, 9.5))
for index, ax in enumerate(axes.flat):
    ax.imshow(x_train[index])
    ax.set_title(CLASS_NAMES[y_train[index, 0]], fontsize=9)
    ax.axis("off")
fig.suptitle("CIFAR-10 training pictures")
fig.tight_layout()
write_atomically("samples.png", lambda path: fig.savefig(path, format="png", dpi=80))
done_with(fig)

# %% [markdown]
# ## 4. Prepare the data
#
# **One-hot labels.** The network's last layer will output ten numbers, one probability
# per class. To compare them with the answer, we write each label the same way: class 3
# (cat) becomes `[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]`, a 1 in the position of the right
# class and 0 everywhere else. This is called *one-hot* encoding, and it is what the
# categorical cross-entropy loss we use below expects.

# %%
y_train_onehot = keras.utils.to_categorical(y_train, NUM_CLASSES)
y_test_onehot = keras.utils.to_categorical(y_test, NUM_CLASSES)
print("Label", y_train[0, 0], "->", y_train_onehot[0])

# %% [markdown]
# **Data augmentation.** With 50,000 pictures the network could simply memorise the
# training set instead of learning what a cat looks like. So each time a picture is
# used, we show a slightly changed copy: flipped left-to-right half of the time and
# shifted by up to 10% of its size (3 pixels). A flipped cat is still a cat, and the
# network now sees many more distinct pictures. Keras' preprocessing layers do this; they
# change pictures only during training, never when the model is used to predict;
# `Pipeline` chains them, in a form `tf.data` can run whatever the backend. The
# shifts are by whole pixels (`interpolation="nearest"`): shifting by fractions of a pixel
# would blend neighbouring pixels and blur the training pictures, while the test pictures
# stay sharp.

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
# pictures each epoch, groups them into batches, augments each batch, and prepares the
# next batches (`prefetch`) while the network trains on the current one. The pictures
# keep their 0-255 values all the way (bytes until augmentation, which hands them on as
# `float32`): the model itself scales them, so the saved model later takes raw pixels,
# exactly as they come from a photo. `repeat()` makes the stream endless, reshuffled on
# every pass, so one stream serves all epochs; `fit` is then told how many batches make
# an epoch. (A fresh stream per epoch works too, but on a 2-core processor it sometimes
# stalled for 5 seconds at the start of an epoch.)

# %%
train_dataset = (
    tf.data.Dataset.from_tensor_slices((x_train, y_train_onehot))
    .shuffle(len(x_train), seed=seed)
    .batch(batch_size)
    .repeat()
    .map(
        lambda images, labels: (augment(images, training=True), labels),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    .prefetch(tf.data.AUTOTUNE)
)

# %% [markdown]
# ## 5. Build the model
#
# A **convolution** (`Conv2D`) slides a small window, here 3×3 pixels, across the
# picture. At each position it multiplies the pixels under the window by a set of learned
# weights (the *kernel*) and adds them up into one number. A colour picture has 3 values
# per pixel, so the kernel is 3×3×3: it covers all three colours at once and slides in
# two directions only, across and down. That is why colour pictures use `Conv2D`, not
# `Conv3D` (which would also slide along a third direction, such as time in a video).
# Each **filter** is one such kernel that learns to respond to one pattern (an edge, a
# patch of colour, later an eye or a wheel); a layer with 32 filters produces 32 maps of
# where its patterns occur. The window moves one pixel at a time: a **stride** of 1.
#
# **Padding.** A 3×3 window cannot be centred on the border pixels. With
# `padding="same"` Keras adds a border of zeros so the output keeps the input's size
# (32→32). With the default, `padding="valid"`, the window stays inside the picture and
# the output loses one pixel at each edge (32→30).
#
# **Pooling.** `MaxPooling2D(2×2)` keeps the largest value of each 2×2 block, halving
# height and width (30→15). The network gets cheaper, and a pattern counts whether it
# sits at one pixel or the next.
#
# **Dropout** switches off a random fraction of the values (25%, later 50%) at each
# training step, so the network cannot lean on any single one and has to learn redundant
# features. Like augmentation, it acts only during training.
#
# **Flatten** unrolls the last 6×6×64 maps into one list of 2,304 numbers, **Dense**
# connects every one of them to every one of 512 units, and the final `Dense(10)` gives
# one score per class. **Softmax** turns those ten scores into probabilities that add up
# to 1. **ReLU** (`max(0, x)`) after each hidden layer lets the network learn more than
# straight-line relationships.
#
# Follow the height and width through the network: 32 (input) → 32 ("same") → 30
# ("valid") → 15 (pooling) → 15 ("same") → 13 ("valid") → 6 (pooling, rounding down).
# The first layer, `Rescaling`, maps the pixel values 0-255 to 0-1, the range in which
# training works best. The last layer computes in `float32` even under mixed precision,
# so the probabilities keep their full accuracy.

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
# 512 biases = 1,180,160. A convolution layer needs far fewer, because the same small
# kernel is reused at every position: the first one has 3×3×3 weights + 1 bias per
# filter, times 32 filters = 896.
#
# ## 6. Compile the model
#
# Compiling chooses how the network learns:
#
# - The **loss**, categorical cross-entropy, is small when the probability given to the
#   right class is high. Training lowers it. With *label smoothing* of 0.1 the targets
#   become 0.91 for the right class and 0.01 for each other class instead of 1 and 0, so
#   the network is not pushed to be ever more certain of the training pictures, which
#   helps it on new ones. (It also means the loss never gets near 0.)
# - The **optimizer**, RMSprop, adjusts each weight by a step scaled by a running
#   average of how large that weight's recent gradients were, so weights with steep,
#   noisy gradients move carefully and flat ones move faster.
# - The **metric**, accuracy, is the fraction of pictures whose most probable class is
#   the right one: the number we care about, reported after each epoch.
#
# The learning rate follows a schedule: it climbs from a tenth of `learning_rate` to
# the full value over the first two epochs (a *warm-up*, which keeps the first large,
# random steps from pushing the network somewhere it cannot recover from), then falls
# along a cosine curve to zero by the last epoch, so the final epochs make small,
# careful adjustments. (Old examples wrote `RMSprop(lr=..., decay=...)`; Keras 3 uses
# `learning_rate=` and schedule objects like this one instead.)

# %%
steps_per_epoch = math.ceil(len(x_train) / batch_size)
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
# `model.fit` runs the epochs. After each one it also measures loss and accuracy on the
# 10,000 test pictures (`validation_data`), so we can watch both curves as they develop.
# We only look at those numbers; they never change the weights.
#
# *Callbacks* are objects that `fit` calls at set moments, such as the end of each epoch.
# Ours time each epoch, log its numbers, and back up the training, so that a long run
# survives a closed laptop lid. In a terminal you see a progress bar; when the output goes
# to a file or a CI log, one line per epoch.
#
# `EpochTimer` notes how long each epoch took: all of it (`epoch_seconds`), and the
# training batches alone, without the test pass (`batch_seconds`).


# %%
class EpochTimer(keras.callbacks.Callback):
    """Adds each epoch's duration to its logs: in total, and for the training part alone."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
        self.batch_seconds = None

    def on_test_begin(self, logs=None):  # validation begins: the training part is over
        self.batch_seconds = time.perf_counter() - self.start

    def on_epoch_end(self, epoch, logs=None):
        logs["epoch_seconds"] = time.perf_counter() - self.start
        logs["batch_seconds"] = self.batch_seconds or logs["epoch_seconds"]


# %% [markdown]
# **Never lose a run.** At the end of every epoch, `BackupAndRestore` saves the weights,
# the optimizer's state and the number of finished epochs to `outputs/backup/` (keeping the
# previous backup too, in case the machine dies while the new one is being written). If
# the run is stopped (Ctrl-C, a closed lid, a crash, a power cut), run the same command
# again: `fit` restores the backup and continues with the next epoch. The backup is
# deleted once the whole tutorial has finished, so the next run starts afresh, and a
# backup made with other settings is set aside rather than resumed. (A resumed run
# shuffles and augments its remaining epochs differently from an unbroken one, so its
# final figures may differ slightly.)
#
# `CSVLogger` appends each epoch's numbers to a working log in the backup folder;
# after each epoch we copy it to `outputs/history.csv`, where you can follow the run.

# %%
backup_dir = output_path("backup")
backup_history_file = os.path.join(backup_dir, "history.csv")
backup_metadata_file = os.path.join(backup_dir, "training_metadata.json")  # BackupAndRestore's
run_settings = {
    "epochs": epochs,
    "batch_size": batch_size,
    "learning_rate": learning_rate,
    "seed": seed,
    "precision": precision,
    "data_source": data_source,
}


def read_json(path):
    try:
        with open(path) as json_file:
            return json.load(json_file)
    except (OSError, ValueError):  # missing, or cut short by a crash
        return None


def epochs_in_backup():
    metadata = read_json(backup_metadata_file) or read_json(backup_metadata_file + ".bkp")
    return metadata["epoch"] if metadata else 0


def publish_history(epoch=None, logs=None):
    write_atomically("history.csv", lambda path: shutil.copyfile(backup_history_file, path))


# %% [markdown]
# Before training: resume the backup if it was made with these settings, else start
# afresh. The working log keeps one row per epoch in the backup: a crash between
# logging an epoch and backing it up leaves one row too many, which we drop.

# %%
if read_json(os.path.join(backup_dir, "settings.json")) != run_settings:
    if os.path.exists(backup_dir):
        print("A backup made with other settings is in", backup_dir, "- starting afresh.")
        shutil.rmtree(backup_dir)
    os.makedirs(backup_dir)
    with open(os.path.join(backup_dir, "settings.json"), "w") as settings_file:
        json.dump(run_settings, settings_file)

epochs_done = epochs_in_backup()
if epochs_done:
    print(f"Resuming from the backup: {epochs_done} of {epochs} epochs are done.")
if os.path.exists(backup_history_file):
    with open(backup_history_file) as log_file:
        log_lines = log_file.readlines()
    with open(backup_history_file, "w") as log_file:
        log_file.writelines(log_lines[: 1 + epochs_done] if epochs_done else [])

# %% [markdown]
# Now train. The callbacks run in the order listed: the epoch is logged before it is
# backed up, never the other way round. Ctrl-C, or a polite request to stop (`kill`),
# ends the run with a note of what was saved.

# %%
if not in_notebook:
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops like Ctrl-C
callbacks = [
    EpochTimer(),
    keras.callbacks.CSVLogger(backup_history_file, append=True),
    keras.callbacks.LambdaCallback(on_epoch_end=publish_history),
    keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True, delete_checkpoint=False),
]
try:
    history = model.fit(
        train_dataset,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=(x_test, y_test_onehot),
        callbacks=callbacks,
        shuffle=False,  # train_dataset already shuffles every epoch
        verbose=1 if sys.stdout.isatty() else 2,
    )
except KeyboardInterrupt:
    print(
        f"\nStopped after {epochs_in_backup()} of {epochs} epochs; run the same command again "
        "to continue from there.",
        file=sys.stderr,
    )
    sys.exit(130)
publish_history()

# %% [markdown]
# Read the log like this: `accuracy` and `loss` are measured on the (augmented) training
# batches while the weights are still changing, and with dropout switched on;
# `val_accuracy` and `val_loss` are measured on the test pictures at the end of the
# epoch. Early on, test accuracy is often *higher* than training accuracy for exactly
# that reason. If training accuracy kept climbing while test accuracy fell, the network
# would be memorising the training pictures: *overfitting*.
#
# ## 8. Evaluate on the test set
#
# The final score: loss and accuracy over the 10,000 test pictures.

# %%
test_loss, test_accuracy = model.evaluate(x_test, y_test_onehot, batch_size=batch_size, verbose=0)
print(f"Test loss: {test_loss:.4f}")
print(f"Test accuracy: {test_accuracy:.2%}")

# %% [markdown]
# A network that guessed at random would score 10%. With the default settings expect
# about 81%: the network gets four pictures in five right. Which classes does it find
# hard? `model.predict` returns the ten probabilities per picture; the class with the
# highest one is its answer.

# %%
probabilities = model.predict(x_test, batch_size=batch_size, verbose=0)
predicted_classes = probabilities.argmax(axis=1)
true_classes = y_test[:, 0]
per_class_accuracy = {}
for class_index, class_name in enumerate(CLASS_NAMES):
    of_this_class = true_classes == class_index
    per_class_accuracy[class_name] = float(np.mean(predicted_classes[of_this_class] == class_index))
    print(f"{class_name:>10}: {per_class_accuracy[class_name]:.1%}")

# %% [markdown]
# Vehicles (cars, trucks, ships) are usually recognised best; cats, dogs and birds,
# which share shapes and colours, worst.
#
# We save the numbers to `outputs/metrics.json`, so that runs can be compared later. The
# times come from `history.csv`, which covers every epoch, also those of a run that was
# interrupted and resumed: `train_seconds` adds up `epoch_seconds` (training with the
# per-epoch test pass), `images_per_second` divides by `batch_seconds` (training alone).

# %%
epoch_log = np.genfromtxt(output_path("history.csv"), delimiter=",", names=True, ndmin=1)
seconds_on_training_batches = float(epoch_log["batch_seconds"].sum())
metrics = {
    "test_accuracy": float(test_accuracy),
    "test_loss": float(test_loss),
    "per_class_accuracy": per_class_accuracy,
    "epochs_completed": len(epoch_log),
    "train_seconds": round(float(epoch_log["epoch_seconds"].sum()), 1),
    "images_per_second": round(len(epoch_log) * len(x_train) / seconds_on_training_batches, 1),
    "batch_size": batch_size,
    "learning_rate": learning_rate,
    "seed": seed,
    "precision": precision,
    "keras_version": keras.__version__,
    "backend": backend,
    "data_source": data_source,
}


def write_metrics(path):
    with open(path, "w") as metrics_file:
        json.dump(metrics, metrics_file, indent=2)


write_atomically("metrics.json", write_metrics)
print(json.dumps(metrics, indent=2))

# %% [markdown]
# ## 9. Plot accuracy and loss
#
# The curves tell the story of the training. We plot the numbers `model.fit` printed,
# from `history.csv` (`fit` also returns them, in `history.history`, but only for the
# epochs of this session).


# %%
def plot_curves(metric, title, file_name):
    epoch_numbers = np.arange(1, len(epoch_log) + 1)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(epoch_numbers, epoch_log[metric], "o-", label="training")
    ax.plot(epoch_numbers, epoch_log["val_" + metric], "o-", label="test")
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend()
    write_atomically(file_name, lambda path: fig.savefig(path, format="png", dpi=100))
    done_with(fig)


plot_curves("accuracy", "Accuracy per epoch", "accuracy.png")
plot_curves("loss", "Loss per epoch", "loss.png")

# %% [markdown]
# In `accuracy.png` both curves should rise quickly over the first epochs and then
# flatten; in `loss.png` both should fall. Curves that stay close together mean the
# network generalises: what it learned on the training pictures holds on new ones.
#
# ## 10. Save the model and use it
#
# The saved file holds the architecture, the weights and the optimizer state. Because
# scaling is part of the model, it takes raw pixels: an array of shape (N, 32, 32, 3)
# with values 0-255, and returns N rows of 10 class probabilities.

# %%
write_atomically("cifar10_cnn.keras", model.save)
print("Saved", output_path("cifar10_cnn.keras"))

# %% [markdown]
# Here is the model at work on the first twelve test pictures, loaded back from the
# file just as another program would load it. Green titles are right, red ones wrong.

# %%
loaded_model = keras.models.load_model(output_path("cifar10_cnn.keras"))
new_pictures = x_test[:12]
predictions = loaded_model.predict(new_pictures, verbose=0).argmax(axis=1)
fig, axes = plt.subplots(2, 6, figsize=(12, 4.8))
for ax, picture, predicted, true in zip(axes.flat, new_pictures, predictions, y_test[:12, 0]):
    ax.imshow(picture)
    ax.set_title(
        f"{CLASS_NAMES[predicted]}\n(true: {CLASS_NAMES[true]})",
        fontsize=9,
        color="green" if predicted == true else "red",
    )
    ax.axis("off")
fig.tight_layout()
write_atomically("predictions.png", lambda path: fig.savefig(path, format="png", dpi=80))
done_with(fig)

# %% [markdown]
# Everything is written, so the backup has done its job. Deleting it means that running
# the same command again starts a new run rather than resuming this finished one.

# %%
shutil.rmtree(backup_dir)
written = sorted(name for name in os.listdir(output_dir) if not name.startswith("."))
print("Wrote", ", ".join(written))

# %% [markdown]
# ## What to try next
#
# - **Train longer or shorter.** Does `--epochs 60` still gain, or has the test accuracy
#   levelled off? `--epochs 5` shows how fast the first gains come.
# - **Change the network.** Add a third Conv2D/MaxPooling2D block with 128 filters, or
#   put `layers.BatchNormalization()` after each convolution, and compare the curves.
# - **Change the recipe.** Try `--learning-rate 0.0003` or `0.003`, or another optimizer
#   (`keras.optimizers.Adam`), and watch what happens to the first epochs.
# - **Remove the augmentation** (use `lambda images, labels: (images, labels)` in the
#   data stream) and watch the training and test curves drift apart: overfitting.
# - **Use the model.** `keras.models.load_model("outputs/cifar10_cnn.keras")` in another
#   program, and `model.predict` on your own 32×32 pictures.
