"""Training speed of versions of the tutorial, or of its backends, measured in turns.

    python benchmarks/compare_versions.py --data-dir ~/data/cifar10 --images 10000 --rounds 3 \
        train_cifar10.py old_train_cifar10.py
    python benchmarks/compare_versions.py --data-dir ~/data/cifar10 train_cifar10.py:jax \
        train_cifar10.py:torch

Each variant is SCRIPT or SCRIPT:BACKEND. Every round runs each variant once, in the order
given (A B A B ...), for --epochs epochs on the first --images training pictures of a real
CIFAR-10 copy (the official layout), and reports training images per second over the
training batches of every epoch but the first (which also builds the model). The test
set's results are not read. Compare the ratios within one run: these machines are shared.
"""

import argparse
import csv
import os
import pickle
import shlex
import statistics
import subprocess
import sys
import tempfile

BATCH_FILES = [f"data_batch_{number}" for number in range(1, 6)] + ["test_batch"]


def write_subset(source, folder, train_images, test_images=1000):
    """The first pictures of each batch file of a trusted local copy, in the same layout."""
    os.makedirs(folder)
    for name in BATCH_FILES:
        with open(os.path.join(source, name), "rb") as batch_file:
            batch = pickle.load(batch_file, encoding="bytes")  # our own copy: trusted
        size = test_images if name == "test_batch" else train_images // 5
        subset = {b"data": batch[b"data"][:size], b"labels": list(batch[b"labels"][:size])}
        with open(os.path.join(folder, name), "wb") as batch_file:
            pickle.dump(subset, batch_file, protocol=4)


def trusts_data(script):
    """Whether the script has --trust-data (older versions read any copy without it)."""
    with open(script, encoding="utf-8") as source:
        return "--trust-data" in source.read()


def images_per_second(variant, data_dir, output_dir, train_images, epochs):
    script, _, backend = variant.partition(":")
    command = [sys.executable, script, "--data-dir", data_dir, "--output-dir", output_dir]
    command += ["--trust-data"] * trusts_data(script)  # a subset made here, not the download
    env = dict(os.environ, KERAS_BACKEND=backend or "tensorflow")
    subprocess.run(command + ["--epochs", str(epochs)], check=True, capture_output=True, env=env)
    with open(os.path.join(output_dir, "history.csv")) as history_file:
        seconds = [float(row["batch_seconds"]) for row in csv.DictReader(history_file)][1:]
    trained = train_images - max(1, train_images // 10)  # the rest validates
    return trained * len(seconds) / sum(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="+", help="SCRIPT or SCRIPT:BACKEND")
    parser.add_argument(
        "--data-dir", required=True, help="a cifar-10-batches-py folder or its parent"
    )
    parser.add_argument("--images", type=int, default=10_000, help="training pictures")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run, the first left out")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant, in turns")
    args = parser.parse_args()
    source = args.data_dir
    if not os.path.exists(os.path.join(source, "test_batch")):
        source = os.path.join(source, "cifar-10-batches-py")

    print("Command: `" + shlex.join(["python"] + sys.argv) + "`\n")
    print("| round | " + " | ".join(f"`{variant}`" for variant in args.variants) + " |")
    print("| --- |" + " --- |" * len(args.variants), flush=True)
    speeds = {variant: [] for variant in args.variants}
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = os.path.join(scratch, "cifar-10-batches-py")
        write_subset(source, data_dir, args.images)
        for round_number in range(1, args.rounds + 1):
            for index, variant in enumerate(args.variants):
                output_dir = os.path.join(scratch, f"out-{round_number}-{index}")
                speed = images_per_second(variant, data_dir, output_dir, args.images, args.epochs)
                speeds[variant].append(speed)
            row = " | ".join(f"{speeds[variant][-1]:,.0f}" for variant in args.variants)
            print(f"| {round_number} | {row} |", flush=True)
    means = [statistics.mean(speeds[variant]) for variant in args.variants]
    print("| mean | " + " | ".join(f"{mean:,.0f}" for mean in means) + " |")
    print("| ratio to the first | " + " | ".join(f"{mean / means[0]:.3f}" for mean in means) + " |")


if __name__ == "__main__":
    main()
