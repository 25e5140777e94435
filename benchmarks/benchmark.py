"""Speed and accuracy benchmark for train_cifar10.py.

Prints its figures and appends them, with the command that produced them, to
benchmarks/RESULTS.md:

- the machine: processor, cores, bfloat16 support, TensorFlow and Keras versions;
- training images per second of the tutorial itself (its tf.data pipeline, augmentation,
  precision and batch size, run as `python train_cifar10.py`) and of the classic Keras
  example's setup (benchmarks/classic_setup.py), measured in turns, A B A B, and their ratio;
- the network's FLOPs per training image; the FLOP/s the tutorial achieves, and those of
  its training step alone (the saved network and optimizer on one batch kept in memory, no
  input pipeline work, no augmentation: the most these layers reach here); and a matrix
  multiply's peak FLOP/s at the same precision, measured in every round beside the others;
- with --full-run DATA_DIR, a full default run on real data; with --history, an existing
  run's history.csv: validation accuracy per epoch against elapsed time, and when 70%, 75% and
  80% were first reached.

    python benchmarks/benchmark.py                                 # speed only, ~5 minutes
    python benchmarks/benchmark.py --full-run ~/data/cifar10       # plus a full run, ~25 minutes
    python benchmarks/benchmark.py --history outputs/history.csv   # plus that run's curve
"""

import argparse
import csv
import datetime
import json
import os
import pickle
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TUTORIAL = os.path.join(ROOT, "train_cifar10.py")
CLASSIC = os.path.join(HERE, "classic_setup.py")
RESULTS = os.path.join(HERE, "RESULTS.md")


def machine():
    model, flags = platform.processor() or "unknown", ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name") and model in ("unknown", ""):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = line
                    break
    except OSError:
        pass
    bf16 = [flag for flag in ("avx512_bf16", "amx_bf16") if flag in flags.split()]
    import keras
    import tensorflow as tf

    return {
        "processor": model,
        "cores": os.cpu_count(),
        "bfloat16 instructions": ", ".join(bf16) or "none",
        "GPU": ", ".join(d.name for d in tf.config.list_physical_devices("GPU")) or "none",
        "TensorFlow": tf.__version__,
        "Keras": keras.__version__,
    }


def write_random_cifar10(folder, train_images, test_images):
    """Random pictures in the official layout: speed does not depend on what they show."""
    rng = np.random.default_rng(0)
    os.makedirs(folder)
    sizes = [train_images // 5] * 5 + [test_images]
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, size in zip(names, sizes):
        record = {
            b"data": rng.integers(0, 256, size=(size, 3072), dtype=np.uint8),
            b"labels": [int(label) for label in rng.integers(0, 10, size=size)],
        }
        with open(os.path.join(folder, name), "wb") as batch_file:
            pickle.dump(record, batch_file, protocol=4)


def read_history(path):
    with open(path) as history_file:
        return list(csv.DictReader(history_file))


def tutorial_speed(data_dir, output_dir, train_images, epochs=3, backend="tensorflow", flags=()):
    """Training images/s of the tutorial, from its own history.csv, first epoch left out."""
    command = [
        sys.executable,
        TUTORIAL,
        "--data-dir",
        data_dir,
        "--trust-data",  # a copy made here, not the official download
        "--output-dir",
        output_dir,
        "--epochs",
        str(epochs),
        *flags,
    ]
    env = dict(os.environ, KERAS_BACKEND=backend)
    subprocess.run(command, check=True, capture_output=True, env=env)
    seconds = [
        float(row["batch_seconds"])
        for row in read_history(os.path.join(output_dir, "history.csv"))[1:]
    ]
    trained_images = train_images - max(1, train_images // 10)  # the rest validates
    return trained_images * len(seconds) / sum(seconds)


def classic_speed(train_images):
    """Images/s over whole epochs, and over the batches only (without each epoch's wait)."""
    output = subprocess.run(
        [sys.executable, CLASSIC, "--images", str(train_images)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = dict(line.split() for line in output.splitlines() if line.startswith("images_"))
    return float(figures["images_per_second"]), float(figures["images_per_second_batches_only"])


def say_in_turns(say, title, variants, rounds, measure, scratch):
    """A table of images/s: each round measures every variant once, in turns."""
    say(title)
    say("")
    say("| round | " + " | ".join(variants) + " |")
    say("| --- |" + " --- |" * len(variants))
    for round_number in range(1, rounds + 1):
        speeds = [
            measure(variant, os.path.join(scratch, f"{variant}{round_number}"))
            for variant in variants
        ]
        say(f"| {round_number} | " + " | ".join(f"{speed:,.0f}" for speed in speeds) + " |")
    say("")


def bare_step_speed(model_path, batch_size, train_images, epochs=3):
    """Training images/s of the tutorial's saved network, optimizer and precision alone: one
    batch of float32 pixels, already in memory, over and over, first epoch left out."""
    import keras
    import tensorflow as tf

    model = keras.models.load_model(model_path)  # compiled: RMSprop, its loss, its precision
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(batch_size, 32, 32, 3)).astype("float32")
    labels = keras.utils.to_categorical(rng.integers(0, 10, size=batch_size), 10)
    batches = tf.data.Dataset.from_tensors((images, labels)).repeat()
    steps = max(train_images // batch_size, 1)
    model.fit(batches, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)  # traces
    start = time.perf_counter()
    model.fit(batches, steps_per_epoch=steps, epochs=epochs - 1, shuffle=False, verbose=0)
    return steps * batch_size * (epochs - 1) / (time.perf_counter() - start)


def training_flops_per_image(model):
    """Forward FLOPs from the layer shapes (2 per multiply-add); training is about 3x that:
    the backward pass computes gradients for both the inputs and the weights, except the
    input gradient of the first layer, which nothing needs."""
    forward, first_layer = 0, None
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            _, height, width, filters = layer.output.shape
            k_h, k_w = layer.kernel_size
            flops = 2 * height * width * k_h * k_w * layer.input.shape[-1] * filters
        elif kind == "Dense":
            flops = 2 * layer.input.shape[-1] * layer.units
        else:
            continue
        forward += flops
        first_layer = flops if first_layer is None else first_layer
    return forward, 3 * forward - first_layer


MATMUL_DTYPE = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16", "float32": "float32"}


def matmul_peak(dtype, sizes=(1024, 2048, 4096)):
    import tensorflow as tf

    best = 0.0
    for n in sizes:
        a = tf.random.normal((n, n), dtype="float32")
        a = tf.cast(a, dtype)
        b = tf.cast(tf.random.normal((n, n), dtype="float32"), dtype)
        tf.linalg.matmul(a, b).numpy()  # warm up
        repeats = max(3, int(2e10 / (2 * n**3)))
        start = time.perf_counter()
        for _ in range(repeats):
            c = tf.linalg.matmul(a, b)
        c.numpy()
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - start))
    return best


def accuracy_over_time(history):
    elapsed, rows, reached = 0.0, [], {}
    for row in history:
        elapsed += float(row["epoch_seconds"])
        accuracy = float(row["val_accuracy"])
        rows.append((int(row["epoch"]), elapsed, accuracy))
        for target in (0.70, 0.75, 0.80):
            if accuracy >= target and target not in reached:
                reached[target] = (int(row["epoch"]), elapsed)
    return rows, reached


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds (default 2)")
    parser.add_argument("--images", type=int, default=10000, help="training images per epoch")
    parser.add_argument(
        "--full-run",
        metavar="DATA_DIR",
        help="also run the tutorial with its defaults on this CIFAR-10 copy",
    )
    parser.add_argument("--history", help="report the accuracy over time of this history.csv")
    parser.add_argument(
        "--backends", default="", help="also time the tutorial on these Keras backends: jax,torch"
    )
    parser.add_argument(
        "--precisions",
        default="",
        help="also time the tutorial with each --precision, e.g. float32,mixed_bfloat16",
    )
    parser.add_argument(
        "--data-label", default="CIFAR-10 (JPEG copy)", help="what the real data is, for the report"
    )
    args = parser.parse_args()

    lines = [
        f"## {datetime.datetime.now():%Y-%m-%d %H:%M}",
        "",
        "Command: `" + " ".join(shlex.quote(a) for a in ["python"] + sys.argv) + "`",
        "",
    ]

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = os.path.join(scratch, "cifar-10-batches-py")
        write_random_cifar10(data_dir, args.images, 1000)
        say(
            f"Training speed, {args.images:,} random pictures per epoch, first epoch left out, "
            "in turns (A = tutorial, whole epochs; B = classic setup, whole epochs; "
            "B' = classic setup without its wait for each epoch's first batch; "
            "S = the tutorial's training step alone, one batch kept in memory):"
        )
        say("")
        say("| round | A: tutorial | B: classic | B': classic, batches only | A / B | A / B' |")
        say("| --- | --- | --- | --- | --- | --- |")
        tutorial, classic, classic_batches, step_alone, peaks = [], [], [], [], []
        for round_number in range(1, args.rounds + 1):
            output_dir = os.path.join(scratch, f"out{round_number}")
            tutorial.append(tutorial_speed(data_dir, output_dir, args.images))
            whole, batches_only = classic_speed(args.images)
            classic.append(whole)
            classic_batches.append(batches_only)
            with open(os.path.join(output_dir, "metrics.json")) as metrics_file:
                run = json.load(metrics_file)
            model_path = os.path.join(output_dir, "cifar10_cnn.keras")
            step_alone.append(bare_step_speed(model_path, run["batch_size"], args.images))
            peaks.append(matmul_peak(MATMUL_DTYPE[run["precision"]]))
            say(
                f"| {round_number} | {tutorial[-1]:,.0f} | {whole:,.0f} | {batches_only:,.0f} | "
                f"{tutorial[-1] / whole:.2f} | {tutorial[-1] / batches_only:.2f} |"
            )
        say(
            f"| mean | {statistics.mean(tutorial):,.0f} | {statistics.mean(classic):,.0f} | "
            f"{statistics.mean(classic_batches):,.0f} | "
            f"{statistics.mean(tutorial) / statistics.mean(classic):.2f} | "
            f"{statistics.mean(tutorial) / statistics.mean(classic_batches):.2f} |"
        )
        say("")

        if args.backends:
            backends = ["tensorflow"] + args.backends.split(",")
            say_in_turns(
                say,
                "The tutorial on each Keras backend, in turns, images/s:",
                backends,
                args.rounds,
                lambda backend, folder: tutorial_speed(
                    data_dir, folder, args.images, backend=backend
                ),
                scratch,
            )

        if args.precisions:
            say_in_turns(
                say,
                "The tutorial with each --precision, in turns, images/s:",
                args.precisions.split(","),
                args.rounds,
                lambda choice, folder: tutorial_speed(
                    data_dir, folder, args.images, flags=["--precision", choice]
                ),
                scratch,
            )

        import keras

        model = keras.models.load_model(model_path)
        forward, training = training_flops_per_image(model)

    say("| machine | |")
    say("| --- | --- |")
    for key, value in machine().items():
        say(f"| {key} | {value} |")
    say(f"| tutorial's precision | {run['precision']} |")
    say("")
    say(
        f"FLOPs per training image: {training / 1e6:.1f} M ({forward / 1e6:.1f} M forward, "
        f"from the layer shapes). GFLOP/s in the same rounds, against a "
        f"{MATMUL_DTYPE[run['precision']]} matrix multiply's peak measured right after them:"
    )
    say("")
    say("| round | A: tutorial | S: step alone | matmul peak | A / peak | S / peak |")
    say("| --- | --- | --- | --- | --- | --- |")
    rows = list(zip(range(1, args.rounds + 1), tutorial, step_alone, peaks))
    rows.append(
        ("mean", statistics.mean(tutorial), statistics.mean(step_alone), statistics.mean(peaks))
    )
    for label, whole_epochs, step, peak in rows:
        achieved, achieved_alone = whole_epochs * training, step * training
        say(
            f"| {label} | {achieved / 1e9:.1f} | {achieved_alone / 1e9:.1f} | {peak / 1e9:.1f} | "
            f"{achieved / peak:.0%} | {achieved_alone / peak:.0%} |"
        )
    say("")

    history_path = args.history
    if args.full_run:
        run_dir = os.path.join(HERE, "full_run")
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, TUTORIAL, "--data-dir", args.full_run, "--trust-data"]
            + ["--output-dir", run_dir],
            check=True,
        )
        say(
            f"Full default run: `python train_cifar10.py --data-dir {args.full_run} "
            "--trust-data`, "
            f"{time.perf_counter() - start:.0f} s from start to finish, outputs in {run_dir}."
        )
        history_path = os.path.join(run_dir, "history.csv")
    if history_path:
        rows, reached = accuracy_over_time(read_history(history_path))
        say(
            f"Validation accuracy per epoch on {args.data_label}, "
            f"from `{os.path.relpath(history_path)}` (elapsed: training and per-epoch "
            "validation pass, from the start of epoch 1):"
        )
        say("")
        say("| epoch | elapsed | validation accuracy |")
        say("| --- | --- | --- |")
        for epoch, elapsed, accuracy in rows:
            say(f"| {epoch} | {elapsed / 60:.1f} min | {accuracy:.2%} |")
        say("")
        for target in (0.70, 0.75, 0.80):
            if target in reached:
                epoch, elapsed = reached[target]
                say(f"- {target:.0%} first reached after epoch {epoch}, at {elapsed / 60:.1f} min")
            else:
                say(f"- {target:.0%} not reached")
        say("")

    with open(RESULTS, "a") as results:
        results.write("\n".join(lines) + "\n\n")
    print("Appended to", RESULTS)


if __name__ == "__main__":
    main()
