"""Which training settings raise validation accuracy? The tutorial, run with one change at a time.

Each variant is train_cifar10.py with a few lines changed (exact text replacements, each
checked to occur once), trained with the same seed on the same data. The report gives each
variant's validation accuracy after every epoch, the last one, and the last one with mirrored
averaging (the mean of the probabilities for each validation picture and its mirror image).
It never reads the test set's results: choose settings by validation accuracy here, then look
at the test set once, in the tutorial's own run.

    python benchmarks/levers.py --data-dir ~/data/cifar10 --epochs 15 baseline ema
    python benchmarks/levers.py --list

--jobs 2 runs two variants at once, each on a core of its own (their times are then not
comparable with runs on more cores; their accuracy is what counts here). The figures
are appended, with the command, to benchmarks/RESULTS.md.
"""

import argparse
import csv
import datetime
import os
import pickle
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TUTORIAL = os.path.join(os.path.dirname(HERE), "train_cifar10.py")
RESULTS = os.path.join(HERE, "RESULTS.md")

OPTIMIZER = "keras.optimizers.RMSprop(learning_rate=learning_rate_schedule)"
CALLBACKS = "callbacks=[keras.callbacks.TerminateOnNaN(), SaveProgress()]"
SHIFT = "layers.RandomTranslation(\n            0.1, 0.1,"
FLIP = 'layers.RandomFlip("horizontal", seed=seed, dtype="float32"),'

VARIANTS = {
    "baseline": [],
    "ema": [
        (OPTIMIZER, OPTIMIZER[:-1] + ", use_ema=True, ema_momentum=0.999)"),
        (CALLBACKS, CALLBACKS[:-1] + ", keras.callbacks.SwapEMAWeights()]"),
    ],
    "ema-0.99": [
        (OPTIMIZER, OPTIMIZER[:-1] + ", use_ema=True, ema_momentum=0.99)"),
        (CALLBACKS, CALLBACKS[:-1] + ", keras.callbacks.SwapEMAWeights()]"),
    ],
    "erasing": [
        (
            FLIP,
            FLIP + "\n        layers.RandomErasing(0.5, (0.02, 0.15), seed=seed, dtype='float32'),",
        )
    ],
    "shift-0.125": [(SHIFT, SHIFT.replace("0.1, 0.1", "0.125, 0.125"))],
    "shift-0.15": [(SHIFT, SHIFT.replace("0.1, 0.1", "0.15, 0.15"))],
    "lr-0.002": [("learning_rate = 0.001", "learning_rate = 0.002")],
    "lr-0.0005": [("learning_rate = 0.001", "learning_rate = 0.0005")],
    "batch-64": [("batch_size = 128", "batch_size = 64")],
    "batch-256": [("batch_size = 128", "batch_size = 256")],
    "smoothing-0": [("label_smoothing=0.1", "label_smoothing=0.0")],
    "smoothing-0.2": [("label_smoothing=0.1", "label_smoothing=0.2")],
    "weight-decay": [(OPTIMIZER, OPTIMIZER[:-1] + ", weight_decay=0.05)")],
}


def variant_source(names):
    """The tutorial's source with the changes of each named variant ('a+b' combines)."""
    source = open(TUTORIAL).read()
    for name in names.split("+"):
        for old, new in VARIANTS[name]:
            if source.count(old) != 1:
                sys.exit(f"error: variant {name}: {old!r} occurs {source.count(old)} times")
            source = source.replace(old, new)
    return source


def validation_set(data_dir):
    """The tutorial's validation pictures: the last 10% of the training batches."""
    folder = os.path.join(data_dir, "cifar-10-batches-py")
    pictures, labels = [], []
    for number in range(1, 6):
        with open(os.path.join(folder, f"data_batch_{number}"), "rb") as batch_file:
            record = pickle.load(batch_file, encoding="bytes")  # our own copy: trusted
        pictures.append(record[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels += record[b"labels"]
    pictures, labels = np.concatenate(pictures), np.array(labels)
    count = len(labels) // 10
    return pictures[-count:], labels[-count:]


def mirrored_accuracy(model_path, x_val, y_val):
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras

    model = keras.models.load_model(model_path)
    plain = model.predict(x_val, batch_size=500, verbose=0)
    mirrored = model.predict(x_val[:, :, ::-1], batch_size=500, verbose=0)
    return float(np.mean((plain + mirrored).argmax(axis=1) == y_val))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="*", help="variant names; 'a+b' combines two")
    parser.add_argument("--data-dir", help="a folder holding cifar-10-batches-py/")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=1, help="variants run at once, one core each")
    parser.add_argument("--data-label", default="CIFAR-10 (JPEG copy)")
    parser.add_argument("--list", action="store_true", help="list the variants and their changes")
    args = parser.parse_args()
    if args.list or not args.variants:
        for name, changes in VARIANTS.items():
            print(name + ":", "; ".join(f"{old!r} -> {new!r}" for old, new in changes) or "-")
        return

    scratch = tempfile.mkdtemp(prefix="levers-")
    running, finished = [], {}
    queue = list(args.variants)
    while queue or running:
        while queue and len(running) < args.jobs:
            name = queue.pop(0)
            script = os.path.join(scratch, name + ".py")
            with open(script, "w") as script_file:
                script_file.write(variant_source(name))
            output_dir = os.path.join(scratch, name)
            used = {entry[4] for entry in running}
            core = min(set(range(args.jobs)) - used)
            log = open(output_dir + ".log", "w")
            command = [sys.executable, script, "--data-dir", args.data_dir, "--trust-data"]
            command += ["--output-dir", output_dir, "--epochs", str(args.epochs)]
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=(lambda core=core: os.sched_setaffinity(0, {core}))
                if args.jobs > 1
                else None,
            )
            running.append((name, process, output_dir, time.perf_counter(), core))
            print(f"started {name} (log: {output_dir}.log)", flush=True)
        time.sleep(5)
        for entry in list(running):
            name, process, output_dir, start, _ = entry
            if process.poll() is not None:
                running.remove(entry)
                finished[name] = (process.returncode, output_dir, time.perf_counter() - start)
                print(f"finished {name}: exit {process.returncode}", flush=True)

    x_val, y_val = validation_set(args.data_dir)
    lines = [f"## {datetime.datetime.now():%Y-%m-%d %H:%M}", ""]
    lines.append("Command: `" + shlex.join(["python"] + sys.argv) + "`")
    from benchmark import machine  # processor, cores, bfloat16, GPU, versions

    where = ", ".join(f"{key}: {value}" for key, value in machine().items())
    lines += ["", f"Machine: {where}; {args.jobs} variant(s) at a time.", ""]
    lines += [f"Validation accuracy after each epoch, on {args.data_label}:", ""]
    curves, summary = {}, []
    for name in args.variants:
        code, output_dir, seconds = finished[name]
        if code != 0:
            summary.append(f"| {name} | failed (exit {code}) | | |")
            continue
        with open(os.path.join(output_dir, "history.csv")) as history_file:
            curves[name] = [float(row["val_accuracy"]) for row in csv.DictReader(history_file)]
        mirrored = mirrored_accuracy(os.path.join(output_dir, "cifar10_cnn.keras"), x_val, y_val)
        summary.append(
            f"| {name} | {curves[name][-1]:.2%} | {mirrored:.2%} | {seconds / 60:.0f} min |"
        )
    names = list(curves)
    lines.append("| epoch | " + " | ".join(names) + " |")
    lines.append("| --- |" + " --- |" * len(names))
    for epoch in range(args.epochs):
        figures = " | ".join(f"{curves[name][epoch]:.2%}" for name in names)
        lines.append(f"| {epoch + 1} | {figures} |")
    lines += ["", "| variant | last validation | with mirrored averaging | whole run |"]
    lines += ["| --- | --- | --- | --- |"] + summary + [""]
    print("\n".join(lines))
    with open(RESULTS, "a") as results:
        results.write("\n".join(lines) + "\n\n")
    print("Appended to", RESULTS, "| outputs and logs in", scratch)


if __name__ == "__main__":
    main()
