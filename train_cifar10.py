# %% [markdown]
# # Train a convolutional network on CIFAR-10 with Keras
#
# **Date created:** 2026-11-28<br>
# **Last modified:** 2026-12-07<br>
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
# 9. Plot the learning curves, and what the first layer sees
# 10. Save the model and use it on a picture file
#
# **How to run it** (Linux, macOS or Windows; the README gives the commands for each):
# `pip install -r requirements.txt`, then `python train_cifar10.py`, or `python
# train_cifar10.py --epochs 3` for a first try of a few minutes.
# It downloads CIFAR-10 (170 MB, once), trains the network and writes its plots, metrics
# and model to `outputs/`. Offline, point it at a copy you downloaded elsewhere with
# `--data-dir PATH`; `--help` lists every flag. Each `# %%` block is a notebook cell (VS
# Code, PyCharm, JupyterLab with Jupytext), and `train_cifar10.ipynb` is the same tutorial
# as a notebook. One block of cells in step 1, marked *housekeeping* (folded in the
# notebook), makes the script safe to run for real. Skip it: the story then runs from the
# settings to the end, and calls the few helpers it needs from there by names that say
# what they do.

# %% [markdown]
# **In Colab**, nothing needs installing: Colab's own Keras and TensorFlow are used. For a
# GPU, choose *Runtime, Change runtime type, T4 GPU* before *Runtime, Run all*. A run saves
# every epoch and resumes after a stop, but only while the runtime lives: Colab gives a
# fresh machine after a disconnection. To keep the run (and the outputs) across runtimes,
# mount Google Drive (*Files, Mount Drive*) and set `output_dir` in the settings below to
# a folder there, such as `"/content/drive/MyDrive/cifar10_outputs"`.

# %% [markdown]
# ## 1. Setup
#
# A network's **weights** are the numbers it learns: at first random, then nudged after
# every batch of pictures so that its answers get better. An **epoch** is one pass over
# all the training pictures. The network looks at them in **batches**: it predicts a whole
# batch, measures its mistakes, and adjusts its weights once per batch. The **learning
# rate** sets how big each adjustment is (at most: step 6 makes it rise, then fall). The
# **seed** fixes the random choices (starting weights, order of pictures), so that two
# runs with TensorFlow on the same computer give the same numbers.
#
# Batches of 128 keep a processor busy (on 2 cores, batches of 32 trained about 30%
# fewer pictures per second), and 40 epochs still make over 14,000 adjustments: 352
# batches from the 45,000 training pictures in each epoch. Forty did better than thirty
# (see "What to try next"). On a 2-core processor with the machine to itself, 40 epochs
# took about 59 minutes (about 88 seconds an epoch) and reached about 82% test accuracy.
# Your own first epoch tells you how long the rest will take: after every epoch a line
# says how long the run has taken and about how long is left. A GPU is faster still: on
# Colab, choose a GPU runtime and run the notebook (the README says how). (The tag
# `parameters` on the next cell lets notebook tools such as papermill set these names.)

# %% tags=["parameters"]
epochs = 40
batch_size = 128
learning_rate = 0.001
seed = 42
data_dir = None  # None: download CIFAR-10; or the path of a local copy
trust_data = False  # True: read a copy of data_dir that is not the official download
output_dir = "outputs"  # where plots, metrics and the model are written
precision = "auto"  # or "float32", "mixed_bfloat16", "mixed_float16": see the README

# %% [markdown] id="housekeeping"
# ### Housekeeping: skip it on a first reading, down to "The libraries"
#
# These cells (folded in the notebook, collapsed in Colab) make the script safe to run for
# real, and none comes later: they read the flags, keep the console to the tutorial's own
# lines, turn every failure into one line, pick the fastest precision, read a local copy of
# CIFAR-10 only if it is the official download (or you vouch for it), write only into an
# output folder of the tutorial's own, one run at a time, and save every epoch so that a
# stopped run resumes. The story calls them by names that say what they do: `load_cifar10`,
# `open_run_folder`, `save_figure`, `augmented_batches`, `resume_from_backup`,
# `SaveProgress`, `work_file`, `publish_outputs`, and the list `history_rows`.

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
# The command line may override the settings above: python train_cifar10.py --epochs 5.
import argparse
import sys


def in_range(kind, low, high):
    """An argparse type: a number of the given kind, from low to high."""

    def number(text):  # its name is in argparse's "invalid number value: 'abc'"
        if not low <= kind(text) <= high:  # also refuses nan
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {text}")
        return kind(text)

    return number


# The settings go in as text, so that they are checked as a flag is (a notebook has no flags).
parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
parser.prog = "train_cifar10.py"  # in a notebook too, whose usage line would name its kernel
add = parser.add_argument
add("--epochs", type=in_range(int, 1, 10_000), default=str(epochs), help="passes over the pictures")
add("--batch-size", type=in_range(int, 1, 1024), default=str(batch_size), help="pictures per step")
add("--learning-rate", type=in_range(float, 1e-9, 1e9), default=str(learning_rate), help="its peak")
add("--seed", type=in_range(int, 0, 2**32 - 1), default=str(seed), help="for every random choice")
add("--data-dir", default=data_dir, help="cifar-10-python.tar.gz or what it unpacks to")
add("--trust-data", action="store_true", default=trust_data, help="read an unofficial copy")
add("--output-dir", default=output_dir, help="where plots, metrics and the model go")
precisions = ["auto", "float32", "mixed_bfloat16", "mixed_float16"]
add("--precision", default=precision, choices=precisions, help="auto: the fastest here")
in_notebook = "ipykernel" in sys.modules
args = parser.parse_args([] if in_notebook else None)
globals().update(vars(args))  # each flag replaces the setting of the same name

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
# Every way out is one line: Ctrl-C, kill or a closed terminal says what is saved (exit
# status 130); a failed read or write says what failed (exit status 1).
import os
import signal

epochs_saved = None  # how many epochs the newest backup holds, once training begins
STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"]  # a closed terminal, console
STOP_SIGNALS = [getattr(signal, name) for name in STOP_SIGNALS if hasattr(signal, name)]


def stop(signal_number, frame):
    message = "Stopped before training began: run the same command again to start."
    if epochs_saved is not None:
        saved = f"Stopped with {epochs_saved} of {epochs} epochs saved"
        message = f"{saved}: run the same command again to go on from there."
    print(f"\n{message}", file=sys.stderr, flush=True)
    os._exit(130)  # at once: every file is either complete or in the run's in_progress/


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def one_line_errors(kind, error, traceback):
    if issubclass(kind, OSError):  # a full disk, a folder where a file should go, ...
        print(f"error: {error}", file=sys.stderr)
    else:
        sys.__excepthook__(kind, error, traceback)


if not in_notebook:
    for stop_signal in STOP_SIGNALS:
        if signal.getsignal(stop_signal) != signal.SIG_IGN:  # nohup's ignored SIGHUP stays so
            signal.signal(stop_signal, stop)
    sys.excepthook = one_line_errors
    sys.stdout = sys.stdout or open(os.devnull, "w")  # started without a console (pythonw)
    sys.stderr = sys.stderr or sys.stdout
    if hasattr(sys.stdout, "reconfigure"):  # a log, any encoding (not IDLE: no reconfigure)
        sys.stdout.reconfigure(line_buffering=True, errors="backslashreplace")
        sys.stderr.reconfigure(errors="backslashreplace")
    if "idlelib" in sys.modules:  # IDLE's console says it is a terminal, but cannot redraw a
        sys.stdout.isatty = lambda: False  # line: so Keras prints one line per epoch there


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
# Check the Keras backend. TensorFlow's libraries print notes for their makers while they
# load ("Could not find cuda drivers"), before any setting can stop them: so the console's
# error stream, file descriptor 2, is sent nowhere during that import (a stop's line, too;
# if the import fails, Python's error message still shows).
import importlib.util
import pathlib
import re

backend = os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if backend not in ("tensorflow", "jax", "torch") or not importlib.util.find_spec(backend):
    sys.exit(f"error: Keras backend {backend}: not installed, or not tensorflow, jax or torch")
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # its C++ log: even "2" lets a cuInit error through
try:
    console = os.dup(2)
except OSError:  # no file descriptor 2: pythonw, which IDLE runs a script with on Windows
    console = None
if importlib.util.find_spec("tensorflow") and console is not None:
    with open(os.devnull, "w") as nowhere:
        os.dup2(nowhere.fileno(), 2)
    try:
        import tensorflow as tf
    finally:
        sys.stderr.flush()
        os.dup2(console, 2)
if importlib.util.find_spec("tensorflow"):  # Keras imports it on every backend, if installed
    import tensorflow as tf
import keras
import numpy as np

# %% tags=["housekeeping"] jupyter={"source_hidden": true}
# Precision: "auto" computes in 16 bits where that is fast, keeping the weights in 32 bits.


def gpu_compute_capability():
    """The first GPU's CUDA compute capability, such as (7, 5), or None without a GPU."""
    if backend == "torch":
        import torch

        return torch.cuda.get_device_capability() if torch.cuda.is_available() else None
    if backend == "jax":
        import jax

        gpus = [device for device in jax.devices() if device.platform == "gpu"]
        return tuple(map(int, gpus[0].compute_capability.split("."))) if gpus else None
    gpus = tf.config.list_physical_devices("GPU")
    details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
    return details.get("compute_capability")


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def choose_precision(capability, cpu_has_bfloat16):
    """The fastest precision for this machine, and why."""
    if capability and capability >= (7, 0):
        return "mixed_float16", f"a GPU of compute capability {capability[0]}.{capability[1]}"
    if capability:
        return "float32", "this GPU has no tensor cores for float16 (compute capability below 7.0)"
    if cpu_has_bfloat16 and backend != "jax":  # on JAX, measured slower than float32
        return "mixed_bfloat16", f"no GPU for {backend}; the processor computes bfloat16 natively"
    why = {True: "on JAX, float32 is faster", False: "no native bfloat16 here"}
    return "float32", f"no GPU for {backend}; " + why.get(cpu_has_bfloat16, "bfloat16 not checked")


reason = "chosen with --precision"
if precision == "auto":  # only Linux tells if a processor has bfloat16 (avx512_bf16, amx_bf16)
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    bfloat16 = "_bf16" in cpuinfo.read_text() if cpuinfo.exists() else None
    precision, reason = choose_precision(gpu_compute_capability(), bfloat16)
keras.mixed_precision.set_global_policy(precision)
print(f"Precision: {precision} ({reason})")


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
# A local copy of CIFAR-10 (--data-dir). Its batch files are Python pickles, which can run
# code hidden in them, so a copy is read only if it is the official download, byte for byte
# (the SHA-256 of cifar-10-python.tar.gz is Keras' in keras/src/datasets/cifar10.py, the MD5s
# of its files torchvision's in torchvision/datasets/cifar.py: faking a file with a published
# MD5 needs a "second preimage", which nobody knows how to make), or if you vouch for it.
import hashlib
import pickle
import tarfile
import zlib

ARCHIVE_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}


def digest(path, algorithm):
    """The file's digest, read in chunks: memory stays flat for a file of any size."""
    with open(path, "rb") as file:
        hasher = hashlib.file_digest(file, lambda: hashlib.new(algorithm, usedforsecurity=False))
    return hasher.hexdigest()


def not_official(what, hint=""):
    return ValueError(
        f"{what}. Its files are Python pickles, which can run code when read: if it is a "
        f"copy you made, pass --trust-data (or set trust_data = True) to read it anyway{hint}"
    )


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
# Each batch file holds a dictionary: b"data", one row of 3,072 bytes per picture (1,024
# red values, then green, then blue), and b"labels", one class number 0-9 per picture.
def read_batch(name, file):
    try:
        with file:
            batch = pickle.load(file, encoding="bytes")
        images = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        labels = np.array(batch[b"labels"], dtype=np.uint8).reshape(-1, 1)  # fails below 0
        if images.dtype != np.uint8 or len(labels) != len(images) or labels.max() > 9:
            raise ValueError("it needs pictures of 3,072 bytes, each with a class number 0-9")
    except Exception as error:  # damaged, or another kind of file read with --trust-data
        message = " ".join(f"{type(error).__name__}: {error}".split())  # on one line
        raise ValueError(f"{name} is not a readable CIFAR-10 batch file ({message})") from None
    return images, labels


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def load_local_cifar10(path):
    """The pictures of a local copy: the archive, its folder, or the folder holding that."""
    if os.path.isfile(path):  # the archive: it holds cifar-10-batches-py/data_batch_1, ...
        if not trust_data and digest(path, "sha256") != ARCHIVE_SHA256:
            unpack = " (or unpack it and pass its folder: the official files in it still match)"
            raise not_official("not the official cifar-10-python.tar.gz", unpack)
        with tarfile.open(path) as archive:
            files = {name: archive.extractfile(f"cifar-10-batches-py/{name}") for name in BATCH_MD5}
            batches = {name: read_batch(name, file) for name, file in files.items()}
    else:
        inner = os.path.join(path, "cifar-10-batches-py")
        folder = inner if os.path.isdir(inner) else path
        files = {name: os.path.join(folder, name) for name in BATCH_MD5}
        changed = [name for name, file in files.items() if digest(file, "md5") != BATCH_MD5[name]]
        if changed and not trust_data:
            raise not_official(f"not the official CIFAR-10 files ({', '.join(changed)} differ)")
        batches = {name: read_batch(name, open(file, "rb")) for name, file in files.items()}
    training = [batches[f"data_batch_{number}"] for number in range(1, 6)]
    x_train = np.concatenate([images for images, labels in training])
    y_train = np.concatenate([labels for images, labels in training])
    return (x_train, y_train), batches["test_batch"]


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def load_cifar10(data_dir):
    """CIFAR-10 as NumPy arrays: downloaded by Keras, or read from a local copy."""
    if data_dir is None:
        try:
            return keras.datasets.cifar10.load_data()  # or Keras' copy of an earlier download
        except Exception as error:
            sys.exit(
                f"error: could not download CIFAR-10 ({error}), nor find it in Keras' cache. "
                "Offline? Get cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/"
                "cifar.html on another machine, then use --data-dir PATH"
            )
    if not os.path.exists(data_dir):
        sys.exit(f"error: {data_dir}: no such file or folder")
    try:
        return load_local_cifar10(data_dir)
    except (ValueError, OSError, EOFError, KeyError, tarfile.TarError, zlib.error) as error:
        sys.exit(f"error: {data_dir}: {error}")  # missing, damaged, or not the official copy


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
# The output folder is the tutorial's own, or it is left alone: a new or empty folder, or
# one holding the tutorial's mark, the file MARK below (create it to hand a folder over).
# Inside it, the tutorial replaces only its own outputs, OUTPUT_FILES, and leaves any other
# file alone. A run keeps its files in in_progress/ and moves them into place at the end.
import json
import shutil

try:
    import fcntl  # file locks on Linux and macOS
except ImportError:  # Windows has its own
    fcntl = None
    import msvcrt

MARK = "train_cifar10_outputs.txt"
OUTPUT_FILES = """samples.png history.csv accuracy.png loss.png metrics.json confusion_matrix.png
    mistakes.png first_layer_maps.png cifar10_cnn.keras test_picture.png predictions.png""".split()
work_dir = os.path.join(output_dir, "in_progress")
run_settings = dict(vars(args), backend=backend, precision=precision, output_dir=None)
run_settings["trust_data"] = None  # a stopped run goes on without it
run_settings["data_dir"] = data_dir and os.path.realpath(data_dir)  # however it is reached


def work_file(name):
    return os.path.join(work_dir, name)


def read_json(path, kind=dict):
    """What a JSON file of this tutorial's holds, or kind() if it is missing or not such."""
    try:
        with open(path, "rb") as json_file:
            contents = json.loads(json_file.read(10_000_000))  # a longer one is cut: fails
        return contents if type(contents) is kind else kind()
    except (OSError, ValueError):
        return kind()


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def claim_output_folder():
    """Take the output folder if it is new, empty or marked; lock it: one run at a time."""
    global output_lock
    os.makedirs(output_dir, exist_ok=True)
    shown = [name for name in os.listdir(output_dir) if name[0] != "."]  # not .DS_Store, ...
    if shown and not os.path.isfile(os.path.join(output_dir, MARK)):
        sys.exit(f"error: {output_dir!r} is not empty and has no {MARK}: not this tutorial's")
    mark = os.path.join(output_dir, MARK)  # never written to, never deleted
    output_lock = open(mark, "ab")  # a notebook running this again: its old lock closes here
    try:
        if fcntl:
            fcntl.flock(output_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # Windows: a lock there bars reading, so lock a byte past the text
            output_lock.seek(1_000_000)
            msvcrt.locking(output_lock.fileno(), msvcrt.LK_NBLCK, 1)
    except (BlockingIOError, PermissionError):  # held by another run
        holder = read_json(work_file("run.json"))
        who = f"process {holder.get('process', 'unknown')}"
        if holder.get("notebook"):
            sys.exit(f"error: a notebook kernel ({who}) is using {output_dir!r}; shut it down")
        sys.exit(f"error: another run ({who}) is using {output_dir!r}; wait for it to finish")
    except OSError as error:  # some network and cloud drives have no locks
        print(f"Warning: cannot lock {output_lock.name} ({error.strerror}): run one at a time.")


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def open_run_folder():
    """Claim the output folder and start this run's in_progress/ there, or keep a stopped run's."""
    claim_output_folder()
    if os.path.exists(work_file("metrics.json")):  # a run stopped while moving its files
        move_outputs_into_place()
        print(f"Finished moving the last run's outputs into {output_dir}.")
    os.makedirs(work_dir, exist_ok=True)
    stopped = read_json(work_file("run.json")).get("settings")
    if backups() and stopped != run_settings:  # never delete a stopped run's saved epochs
        stopped = stopped if type(stopped) is dict else {}  # run.json cannot be read
        differ = [name for name in run_settings if stopped.get(name) != run_settings[name]]
        settings = ", ".join(f"{name} {stopped.get(name)}" for name in differ)
        sys.exit(
            f"error: {work_dir!r} holds a stopped run with other settings ({settings}): run "
            "with those to continue it, or delete that folder to start afresh"
        )
    run = {"settings": run_settings, "process": os.getpid(), "notebook": in_notebook}
    replace_atomically(work_file("run.json"), write_json, run)
    check_free_space()


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def move_outputs_into_place():
    """Move a complete run's outputs into the output folder, metrics.json last: a run stopped
    while moving them leaves metrics.json in in_progress/, and the next run finishes the move."""
    for name in OUTPUT_FILES:
        if name != "metrics.json" and os.path.lexists(work_file(name)):
            rename(work_file(name), os.path.join(output_dir, name))
    for path in [*backups().values(), work_file("run.json")]:
        remove(path)
    rename(work_file("metrics.json"), os.path.join(output_dir, "metrics.json"))


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
# Writing files: these helpers write each file under a temporary name, then rename it, so
# that a stop never leaves half a file, and a symbolic link at the name is replaced, never
# written through.
import csv
import math
import time

history_rows = []  # one per epoch: what fit logged, and the time it took
HISTORY_COLUMNS = "epoch accuracy loss val_accuracy val_loss epoch_seconds batch_seconds".split()


def replace_atomically(path, write, *contents, **options):
    """Call write(temporary path, *contents), then rename the finished file to path."""
    temporary = os.path.join(os.path.dirname(path), ".tmp-" + os.path.basename(path))
    remove(temporary)  # one left by a stop
    try:
        write(temporary, *contents, **options)
        rename(temporary, path)
    finally:
        remove(temporary)


def write_json(path, contents):
    with open(path, "w") as json_file:
        json.dump(contents, json_file, indent=2, allow_nan=False)


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def rename(source, target):
    """os.replace, retried for a few seconds while another program holds the target open
    (Windows refuses then: Excel, a virus scanner), then skipped with a note, not a stop."""
    for _ in range(20):  # 5 seconds
        try:
            return os.replace(source, target)
        except PermissionError:
            if fcntl:  # Linux, macOS: an open file never blocks this; a real refusal
                raise
            time.sleep(0.25)
    print(f"Note: {target} is held open by another program, so it was not replaced.")


def write_history(path):
    with open(path, "w", newline="") as history_file:
        writer = csv.DictWriter(history_file, HISTORY_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(history_rows)


def save_figure(fig, name):
    """Save a figure into this run's folder; show it in a notebook, or free its memory."""
    fig.tight_layout()
    replace_atomically(work_file(name), fig.savefig, dpi=80)
    if in_notebook:
        plt.show()
    else:
        plt.close(fig)


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
# Never lose a run. After every epoch, a backup: a folder holding the weights (and the
# optimizer's state) together with the history so far, so that the same command continues
# a stopped run. The two newest are kept.
def backups():
    """{epochs it holds: folder} of this run's backups, such as in_progress/backup-00007."""
    found = [name for name in os.listdir(work_dir) if re.fullmatch(r"backup-\d{5}", name)]
    return {int(name[-5:]): work_file(name) for name in found if os.path.isdir(work_file(name))}


def check_free_space():
    free = shutil.disk_usage(work_dir).free // 1_000_000
    if free < 100:  # megabytes: a backup takes about 10
        sys.exit(
            f"error: only {free} MB free for {work_dir!r}, and a run needs 100 MB for its backups; "
            "free some space, then run the same command again"
        )


def write_backup(folder, model):
    os.mkdir(folder)
    model.save_weights(os.path.join(folder, "model.weights.h5"))
    write_json(os.path.join(folder, "history.json"), history_rows)


def save_backup(model):
    check_free_space()  # before h5py can run out of it
    epoch = len(history_rows)
    remove(work_file(f"backup-{epoch:05d}"))  # one that could not be read
    replace_atomically(work_file(f"backup-{epoch:05d}"), write_backup, model)
    replace_atomically(work_file("history.csv"), write_history)  # to watch; resume reads backups
    for older, folder in backups().items():  # keep the two newest
        if older < epoch - 1:
            shutil.rmtree(folder)


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def duration(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def clock_line(seconds_so_far, epochs_run):
    """How long this session's epochs took, and about how long the rest will take."""
    left = seconds_so_far / epochs_run * (epochs - epochs_saved)
    so_far = f"{duration(seconds_so_far)} so far"
    if epochs_run < epochs_saved:  # a resumed run times only the epochs it trained itself
        so_far = f"the {epochs_run} since resuming took {duration(seconds_so_far)}"
    return f"Clock: {epochs_saved} of {epochs} epochs done; {so_far}, about {duration(left)} to go."


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
class SaveProgress(keras.callbacks.Callback):
    """After each epoch: its row of history.csv, a backup, and a line on the clock."""

    def on_train_begin(self, logs=None):
        self.train_start, self.epochs_run, self.clock = time.perf_counter(), 0, None

    def on_epoch_begin(self, epoch, logs=None):
        if self.clock:  # the last epoch's, here: after Keras has printed that epoch's line
            print(self.clock)
        self.start, self.batch_seconds = time.perf_counter(), None

    def on_test_begin(self, logs=None):  # validation begins: the training batches are done
        self.batch_seconds = time.perf_counter() - self.start

    def on_epoch_end(self, epoch, logs=None):
        global epochs_saved
        if not math.isfinite(logs["loss"]):  # never back up weights that are not numbers
            sys.exit(f"error: the loss became {logs['loss']}; try a smaller --learning-rate")
        seconds = time.perf_counter() - self.start
        row = {"epoch": epoch + 1, **logs, "epoch_seconds": seconds}
        history_rows.append(dict(row, batch_seconds=self.batch_seconds or seconds))
        save_backup(self.model)
        epochs_saved, self.epochs_run = epoch + 1, self.epochs_run + 1
        self.clock = clock_line(time.perf_counter() - self.train_start, self.epochs_run)

    def on_train_end(self, logs=None):
        if self.clock:
            print(self.clock)


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def read_backup(saved, folder, model):
    """Load a backup's weights into the model, and return its history rows."""
    rows = read_json(os.path.join(folder, "history.json"), list)
    rows = [{column: row[column] for column in HISTORY_COLUMNS} for row in rows]
    numbers = [value for row in rows for value in row.values()]
    if [row["epoch"] for row in rows] != list(range(1, saved + 1)) or not all(
        type(value) in (int, float) and math.isfinite(value) for value in numbers
    ):
        raise ValueError("its history does not match its number")
    model.load_weights(os.path.join(folder, "model.weights.h5"))
    return rows


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def resume_from_backup(model):
    """Load the newest backup that can be used, and return how many epochs it holds."""
    global epochs_saved, history_rows
    model.optimizer.build(model.trainable_variables)  # so that its state can be loaded
    history_rows, epochs_saved = [], 0
    for saved, folder in sorted(backups().items(), reverse=True):
        try:
            history_rows, epochs_saved = read_backup(saved, folder, model), saved
            break
        except Exception as error:  # damaged, cut short or edited: try the older one
            reason = " ".join(f"{type(error).__name__}: {error}".split())[:100]
            print(f"The backup {folder} cannot be read ({reason}); trying an older one.")
    if epochs_saved:
        replace_atomically(work_file("history.csv"), write_history)
        then = f"Continuing with epoch {epochs_saved + 1}." if epochs_saved < epochs else ""
        then = then or "Training is complete."
        print(f"Resuming: {epochs_saved} of {epochs} epochs are saved. {then}")
    elif backups():  # a backup's weights load only once its history is found sound
        print("No backup could be read: starting afresh.")
    return epochs_saved


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
# The stream of augmented batches: tf.data on TensorFlow (it prepares the next batches on
# other threads while the network trains); a keras.utils.PyDataset on JAX and PyTorch,
# which need no TensorFlow. Both shuffle, batch and augment afresh in every epoch.
def augmented_batches(images, labels, augment):
    if backend == "tensorflow":  # one endless stream (a fresh one per epoch sometimes
        return (  # stalled 5 seconds on 2 cores), which fit cuts into epochs by their steps
            tf.data.Dataset.from_tensor_slices((images, labels))
            .shuffle(len(images), seed=seed)
            .batch(batch_size)
            .repeat()
            .map(lambda pictures, targets: (augment(pictures, training=True), targets))
            .prefetch(tf.data.AUTOTUNE)
        )
    return AugmentedBatches(images, labels, augment)


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
class AugmentedBatches(keras.utils.PyDataset):
    def __init__(self, images, labels, augment):
        super().__init__()
        self.images, self.labels, self.augment = images, labels, augment
        self.shuffler = np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.images) / batch_size)

    def __getitem__(self, index):
        batch = self.order[index * batch_size : (index + 1) * batch_size]
        pictures = self.augment(self.images[batch], training=True)
        return keras.ops.convert_to_numpy(pictures), self.labels[batch]

    def on_epoch_end(self):
        self.order = self.shuffler.permutation(len(self.images))


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
# The end of a run: metrics.json, then every file moves into the output folder, it last.
def metrics_of_this_run(confusion, figures):
    libraries = [backend, "keras", "numpy"]
    versions = {name: importlib.import_module(name).__version__ for name in libraries}
    right, count = confusion.diagonal(), confusion.sum(axis=1)
    per_class = [float(right[n] / count[n]) if count[n] else None for n in range(NUM_CLASSES)]
    batch_seconds = sum(row["batch_seconds"] for row in history_rows)
    return dict(
        figures,
        per_class_accuracy=dict(zip(CLASS_NAMES, per_class)),
        confusion_matrix=confusion.tolist(),
        epochs_completed=len(history_rows),
        train_seconds=round(sum(row["epoch_seconds"] for row in history_rows), 1),
        images_per_second=round(len(history_rows) * len(x_train) / batch_seconds, 1),
        **{key: run_settings[key] for key in ("batch_size", "learning_rate", "seed", "backend")},
        precision=precision,
        data_source="keras.datasets (download)" if data_dir is None else data_dir,
        versions=dict(versions, python=sys.version.split()[0]),
    )


# %% tags=["housekeeping"] jupyter={"source_hidden": true}
def publish_outputs(confusion, **figures):
    metrics = metrics_of_this_run(confusion, figures)
    replace_atomically(work_file("metrics.json"), write_json, metrics)
    if not in_notebook:  # finish moving the files, even on Ctrl-C: it takes milliseconds
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, signal.SIG_IGN)
    move_outputs_into_place()
    print("Wrote", ", ".join(OUTPUT_FILES), "to", output_dir)
    if not os.listdir(work_dir):  # any file that another program put there stays
        os.rmdir(work_dir)
    output_lock.close()  # the folder is free for the next run, even while a notebook stays open


# %% [markdown]
# ### The libraries
#
# Keras builds and trains the network; TensorFlow does the arithmetic, unless you name
# another backend, JAX or PyTorch, in the `KERAS_BACKEND` environment variable (the
# housekeeping read it into `backend`). NumPy holds the pictures as arrays; matplotlib
# draws them.

# %%
import math
import os
import sys

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers
from matplotlib.ticker import MaxNLocator

print("Keras", keras.__version__, "on the", backend, "backend")

# %% [markdown]
# **Repeatable numbers.** The `seed` from the settings goes to every random number
# generator at once (Python's, NumPy's and the backend's). With TensorFlow, *op
# determinism* also makes each operation add up its numbers in the same order every time
# (in floating point, the order changes the last digits), which costs some speed.

# %%
keras.utils.set_random_seed(seed)
if backend == "tensorflow":
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()

# %% [markdown]
# ## 2. Load CIFAR-10
#
# CIFAR-10 holds 60,000 colour pictures of 32×32 pixels, 6,000 of each of ten classes,
# split into 50,000 for training and 10,000 for testing.
# `keras.datasets.cifar10.load_data()` downloads it once into `~/.keras/datasets` and
# returns it as NumPy arrays; `load_cifar10` calls it, or, with `--data-dir`, reads a copy
# you downloaded elsewhere, once its digests show it is the official download. Either way,
# a problem with the data stops the tutorial here, with one line saying what is wrong,
# before any time is spent on training.

# %%
NUM_CLASSES = 10
CLASS_NAMES = "airplane automobile bird cat deer dog frog horse ship truck".split()  # labels 0-9
(x_train, y_train), (x_test, y_test) = load_cifar10(data_dir)

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
#
# Now the run begins to write, into `outputs/`, a folder of the tutorial's own (marked by
# the file `train_cifar10_outputs.txt`: it refuses any other folder that holds files). It
# keeps its files in `outputs/in_progress/` (watch `history.csv` grow there), and moves them
# into `outputs/` when it is complete, so `outputs/` always ends holding one whole run.
# `open_run_folder` makes that folder, or finds the stopped run that this same command
# continues.

# %%
open_run_folder()

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
# during training, and `Pipeline` chains them. The shifts are by whole pixels
# (`interpolation="nearest"`): fractions of a pixel would blur the training pictures,
# while the test pictures stay sharp.

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
# **A stream of batches.** Training needs the pictures in batches, in a new random order
# in every epoch, each picture augmented afresh every time it is used. `augmented_batches`
# makes that stream (on TensorFlow it also prepares the next batches while the network
# trains on the current one). The pictures keep their 0-255 values: the model itself
# scales them, so the saved model later takes raw pixels, exactly as they come from a
# photo.

# %%
train_stream = augmented_batches(x_train, y_train_onehot, augment)
steps_per_epoch = math.ceil(len(x_train) / batch_size)  # batches in one pass

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
# The last layer computes in `float32` even under mixed precision (16-bit arithmetic, on
# machines where it is faster), so the probabilities keep their full accuracy.

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
# A long run must survive a stop: Ctrl-C, a closed laptop, a lost connection. So after
# every epoch the weights are backed up (by `SaveProgress`, below), and running the same
# command again continues after the last saved epoch: `resume_from_backup` loads that
# backup, if there is one, and says how many epochs it holds.

# %%
epochs_saved = resume_from_backup(model)

# %% [markdown]
# Now train. `model.fit` runs the epochs, feeding the network one batch after another.
# After each epoch it also measures loss and accuracy on the validation pictures, which
# never change the weights, so that we can watch how the network does on pictures it is
# not trained on. *Callbacks* are objects whose methods `fit` calls at set moments, such
# as the end of each batch or epoch: `TerminateOnNaN` stops a run whose loss is no longer
# a number (a learning rate far too large does that); `SaveProgress` backs up each
# finished epoch and prints the clock: how long the run has taken, and about how long is
# left.
# `initial_epoch=epochs_saved` makes a resumed run start after the epochs already saved.
# In a terminal you see a progress bar; in a notebook, IDLE or a log file, one line per epoch.

# %%
history = model.fit(
    train_stream,
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
# holds them, one row of `history.csv` per epoch (`fit` also returns them, in
# `history.history`, but only for the epochs of this session, and a run may have been
# resumed).


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
# about 0.5 (taken on the mirrored average, so a little lower than a one-way loss).
#
# Which classes does it mix up? The **confusion matrix** counts, for every true class
# (row), how often the network answered each class (column): the diagonal holds the right
# answers, everything else a mistake. `np.add.at` adds one at (true, predicted) for every
# test picture.

# %%
confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=int)
np.add.at(confusion, (true_classes, predicted_classes), 1)
for name, right, count in zip(CLASS_NAMES, confusion.diagonal(), confusion.sum(axis=1)):
    print(f"{name:>10}: {right / count:.1%} of {count} right")

# %% [markdown]
# The plot shows each row in percent of its true class. The right answers (the diagonal,
# in green) would use up any colour scale, so only the mistakes are coloured: the darker
# the red, the more often pictures of that row's class were given that column's answer.

# %%
percent = 100 * confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
mistakes_only = np.where(np.eye(NUM_CLASSES, dtype=bool), np.nan, percent)  # NaN: not drawn
fig, ax = plt.subplots(figsize=(8, 7))
ax.imshow(mistakes_only, cmap="Reds")
for (row, column), value in np.ndenumerate(percent):
    dark = row != column and value > np.nanmax(mistakes_only) / 2
    color = "green" if row == column else "white" if dark else "black"
    ax.text(column, row, f"{value:.0f}", ha="center", va="center", color=color, fontsize=9)
ax.set_xticks(range(NUM_CLASSES), CLASS_NAMES, rotation=45, ha="right")
ax.set_yticks(range(NUM_CLASSES), CLASS_NAMES)
ax.set(xlabel="the network's answer", ylabel="true class")
ax.set_title("Confusion matrix: % of each true class given each answer")
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
# ## 9. Plot the learning curves, and what the first layer sees
#
# The curves tell the story of the training, from the numbers `fit` printed after every
# epoch. Two lines help to read them: *chance*, the 10% that guessing would score, and the
# *floor* of the loss. With label smoothing the best possible answer for a picture is the
# smoothed target itself (0.91 for the right class, 0.01 for the others), and even that
# scores a loss of `-(0.91 log 0.91 + 9 × 0.01 log 0.01)`, about 0.50. So a loss that
# levels off near 1 (the committed run's ended at 0.95 on the validation pictures) is not a
# failure: measured from the floor, it has come most of the way down from the 2.3 that
# random answers score.

# %%
epoch_log = {name: np.array([float(row[name]) for row in history_rows]) for name in history_rows[0]}
smoothing = model.loss.label_smoothing  # 0.1, set in step 6
best_answer = np.full(NUM_CLASSES, smoothing / NUM_CLASSES)  # 0.01 for each wrong class
best_answer[0] += 1 - smoothing  # and 0.91 for the right one
loss_floor = -np.sum(best_answer * np.log(best_answer))


def plot_curves(metric, scale, unit, line, line_label):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    epoch = epoch_log["epoch"]
    ax.plot(epoch, scale * epoch_log[metric], "o-", markersize=3, label="training")
    ax.plot(epoch, scale * epoch_log["val_" + metric], "o-", markersize=3, label="validation")
    ax.axhline(line, color="gray", linestyle="--", label=line_label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
    ax.set(title=f"{metric.capitalize()} per epoch", xlabel="epoch", ylabel=unit)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, f"{metric}.png")


plot_curves("accuracy", 100, "accuracy (%)", 10, "chance: 10%")
plot_curves("loss", 1, "loss", loss_floor, f"floor set by label smoothing: {loss_floor:.2f}")

# %% [markdown]
# In `accuracy.png` both curves rise quickly over the first epochs and then flatten; in
# `loss.png` both fall towards the floor. Curves that stay close together mean the
# network generalises: what it learned on the training pictures holds on new ones.
#
# **What the first layer sees.** Each of the 32 filters of the first convolution makes a
# map of where its pattern occurs in a picture. Here is the first test picture beside its
# 32 maps: bright where a filter responds, dark where it does not. Some respond to edges
# in one direction, some to one colour (the sky, the ground), some to nothing in this
# picture. (`model.layers[1]` is the first convolution; `model.layers[0]` is `Rescaling`,
# which we apply first, as the model does.)

# %%
first_convolution = model.layers[1]
maps = first_convolution(model.layers[0](x_test[:1]))  # (1, 32, 32, 32): a 32×32 map per filter
maps = keras.ops.convert_to_numpy(maps)[0].astype("float32")
layout = [["picture"] * 2 + list(range(row * 8, row * 8 + 8)) for row in range(4)]
fig, axes = plt.subplot_mosaic(layout, figsize=(12, 5))
axes["picture"].imshow(x_test[0], interpolation="nearest")
axes["picture"].set_title(f"test picture 0: {CLASS_NAMES[true_classes[0]]}")
for index in range(32):
    axes[index].imshow(maps[:, :, index], cmap="gray", interpolation="nearest")
for ax in axes.values():
    ax.axis("off")
fig.suptitle("What the 32 filters of the first convolution respond to")
save_figure(fig, "first_layer_maps.png")

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
fig, axes = plt.subplots(2, 6, figsize=(12, 5.6))
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
fig.suptitle("The first twelve test pictures and the network's answers")
save_figure(fig, "predictions.png")

# %% [markdown]
# The run is complete. `publish_outputs` writes its figures to `metrics.json`, with the
# settings and library versions, so that runs can be compared later, and moves every file
# from `outputs/in_progress/` into `outputs/`, `metrics.json` last: running the same command
# again starts a new run.

# %%
publish_outputs(
    confusion,
    test_accuracy=test_accuracy,
    test_loss=test_loss,
    validation_accuracy=val_accuracy,
    validation_accuracy_mirrored=val_accuracy_mirrored,
)

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
# - **Remove the augmentation** (give `augmented_batches` the layer
#   `keras.layers.Identity()`, which passes pictures on unchanged, instead of `augment`)
#   and watch the training and validation curves drift apart: overfitting.
# - **Use the model** in another program:
#   `keras.models.load_model("outputs/cifar10_cnn.keras")`, then classify your own photos
#   as in step 10, with the class names of `CLASS_NAMES` (the model returns numbers only).
# - A stopped run resumes only with the same settings, and does not notice edits to the
#   code: delete `outputs/in_progress/` before trying a changed network.
