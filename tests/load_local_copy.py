"""Run the tutorial's reader of a local CIFAR-10 copy alone, without TensorFlow or Keras.

    python tests/load_local_copy.py SCRIPT PATH

takes from SCRIPT (the tutorial, in Jupytext percent format) the code cells that define the
reader, found by the names they define, runs them with what the earlier cells provide
(os, sys and np), and calls load_local_cifar10(PATH). A DataError ends it as the
tutorial's load cell does: "error: <message>" on stderr, exit status 1. Otherwise it prints
the arrays' shapes and exits 0. Starting in well under a second, it lets the hostile-file
tests try every attack on the reader itself, in a process small enough to measure.
"""

import ast
import os
import sys

import jupytext
import numpy as np

# The cells to run: those defining these names, in the script's order.
READER_NAMES = {
    "DataError",
    "Recorded",
    "SafeUnpickler",
    "parse_batch",
    "read_folder",
    "CappedReads",
    "read_archive",
    "load_local_cifar10",
}


def defined_names(source):
    """The names a cell's top-level statements define: classes, functions, assignments."""
    names = set()
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(statement.name)
        elif isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names.update(
                node.id
                for target in targets
                for node in ast.walk(target)
                if isinstance(node, ast.Name)
            )
    return names


def reader_cells(script):
    cells = []
    for cell in jupytext.read(script, fmt="py:percent").cells:
        if cell.cell_type == "code" and defined_names(cell.source) & READER_NAMES:
            cells.append((cell.source, defined_names(cell.source)))
    missing = READER_NAMES - set().union(*(names for _, names in cells))
    if missing:  # exit status 2, not a refusal's 1: the script changed, not the data
        print(
            f"load_local_copy.py: {script} defines no {', '.join(sorted(missing))}", file=sys.stderr
        )
        sys.exit(2)
    return [source for source, _ in cells]


def main(script, path):
    for name in ("tensorflow", "keras"):  # the reader must not need them: block the import
        sys.modules[name] = None
    namespace = {"__name__": "__main__", "os": os, "sys": sys, "np": np}
    for source in reader_cells(script):
        exec(compile(source, script, "exec"), namespace)
    try:
        (x_train, y_train), (x_test, y_test) = namespace["load_local_cifar10"](path)
    except namespace["DataError"] as error:
        sys.exit(f"error: {error}")  # as the tutorial's load cell
    print("x_train:", x_train.shape, x_train.dtype, "| y_train:", y_train.shape)
    print("x_test:", x_test.shape, x_test.dtype, "| y_test:", y_test.shape)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/load_local_copy.py SCRIPT PATH")
    main(*sys.argv[1:])
