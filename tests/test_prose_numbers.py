"""The numbers the prose quotes (parameter counts, shapes) are the ones the model prints."""

import re
import subprocess
import sys

from conftest import SCRIPT


def prose():
    """The tutorial's markdown cells, joined into one text without the comment marks."""
    text, in_markdown = [], False
    for line in open(SCRIPT, encoding="utf-8"):
        if line.startswith("# %%"):
            in_markdown = "[markdown]" in line
        elif in_markdown:
            text.append(line.removeprefix("#").strip())
    return " ".join(text)


def number(text):
    return int(text.replace(",", ""))


def summary_rows(stdout):
    """(layer type, output shape, parameter count) for each row of model.summary()."""
    rows = []
    for line in stdout.splitlines():
        match = re.search(r"\((\w+)\)\s*│\s*\(None, ([\d, ]+)\)\s*│\s*([\d,]+)", line)
        if match:
            shape = tuple(int(size) for size in match.group(2).split(","))
            rows.append((match.group(1), shape, number(match.group(3))))
    return rows


def test_summary_is_parsed(tutorial_run):
    kinds = [kind for kind, _, _ in summary_rows(tutorial_run[0].stdout)]
    assert kinds.count("Conv2D") == 4 and kinds.count("Dense") == 2, kinds


def test_total_parameter_count(tutorial_run):
    stdout = tutorial_run[0].stdout
    printed = number(re.search(r"Total params: ([\d,]+)", stdout).group(1))
    quoted = number(re.search(r"parameters\"\), ([\d,]+) in all", prose()).group(1))
    assert quoted == printed == sum(count for _, _, count in summary_rows(stdout))


def test_height_and_width_through_the_network(tutorial_run):
    chain = re.search(r"(\d+) \(input\)((?: → \d+ \([^)]*\))+)", prose())
    quoted = [int(chain.group(1))] + [int(size) for size in re.findall(r"→ (\d+)", chain.group(2))]
    printed = [32] + [
        shape[0]
        for kind, shape, _ in summary_rows(tutorial_run[0].stdout)
        if kind in ("Conv2D", "MaxPooling2D")
    ]
    assert quoted == printed


def test_flatten_and_dense_arithmetic(tutorial_run):
    rows = summary_rows(tutorial_run[0].stdout)
    flatten_size = next(shape[0] for kind, shape, _ in rows if kind == "Flatten")
    first_dense = next(count for kind, _, count in rows if kind == "Dense")
    text = prose()
    assert number(re.search(r"one list of ([\d,]+) numbers", text).group(1)) == flatten_size
    inputs, units, biases, total = map(
        number,
        re.search(r"([\d,]+) inputs × (\d+) units \+ (\d+) biases = ([\d,]+)", text).groups(),
    )
    assert (inputs, units * inputs + biases) == (flatten_size, total) and total == first_dense


def test_first_convolution_arithmetic(tutorial_run):
    first_conv = next(
        count for kind, _, count in summary_rows(tutorial_run[0].stdout) if kind == "Conv2D"
    )
    match = re.search(
        r"(\d)×(\d)×(\d) weights \+ 1 bias per filter, times (\d+) filters = ([\d,]+)", prose()
    )
    height, width, channels, filters, total = (number(group) for group in match.groups())
    assert (height * width * channels + 1) * filters == total == first_conv


def test_same_everywhere_arithmetic(tutorial_run):
    """All-"same" padding would give 32, 16, 8: 8 x 8 x 64 Dense inputs instead of 6 x 6 x 64."""
    rows = summary_rows(tutorial_run[0].stdout)
    flatten_size = next(shape[0] for kind, shape, _ in rows if kind == "Flatten")
    units = next(shape[0] for kind, shape, _ in rows if kind == "Dense")
    quoted = re.search(
        r"take ([\d,]+) inputs instead of the ([\d,]+) it would take with \"same\" everywhere: "
        r"([\d,]+) fewer weights",
        prose(),
    )
    assert quoted, "the padding paragraph no longer quotes the arithmetic"
    inputs, all_same_inputs, fewer = map(number, quoted.groups())
    assert inputs == flatten_size and all_same_inputs == 8 * 8 * 64
    assert fewer == (all_same_inputs - flatten_size) * units


def test_the_loss_floor_that_label_smoothing_sets():
    """The best answer to a smoothed target (0.91 right, 0.01 for each other class) still
    scores the loss the prose quotes; the script's compile cell sets that smoothing."""
    import math

    smoothing = float(re.search(r"label_smoothing=([\d.]+)", open(SCRIPT).read()).group(1))
    right, wrong = 1 - smoothing + smoothing / 10, smoothing / 10
    quoted = re.search(r"(\d\.\d+) for the right class and (\d\.\d+) for the others", prose())
    assert (float(quoted.group(1)), float(quoted.group(2))) == (round(right, 2), round(wrong, 2))
    floor = -(right * math.log(right) + 9 * wrong * math.log(wrong))
    formula = re.search(r"scores a loss of `[^`]*`, about (\d\.\d+)", prose())
    assert formula and float(formula.group(1)) == round(floor, 2)


def test_the_layer_that_removes_the_augmentation_runs():
    """ "What to try next" names a layer to use instead of the augmentation: it must run on a
    batch of pictures as augment does, in the tf.data stream and on its own."""
    layer = re.search(
        r"Remove the augmentation\*\* \(give `augmented_batches` the layer `([^`]+)`", prose()
    )
    check = f"""
import keras, numpy as np, tensorflow as tf
layer = {layer.group(1)}
pictures = np.arange(2 * 32 * 32 * 3, dtype=np.uint8).reshape(2, 32, 32, 3)
assert (keras.ops.convert_to_numpy(layer(pictures, training=True)) == pictures).all()
stream = tf.data.Dataset.from_tensor_slices(pictures).batch(2)
stream = stream.map(lambda x: layer(x, training=True))
assert (next(iter(stream)).numpy() == pictures).all()
"""
    process = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert process.returncode == 0, process.stderr[-2000:]
