"""train_cifar10.ipynb is train_cifar10.py as a notebook, and it runs in a real Jupyter kernel."""

import json
import os
import re
import subprocess
import sys

import jupytext
import nbformat

from conftest import ROOT, SCRIPT, describe
from test_robustness import FINAL_OUTPUTS

NOTEBOOK = os.path.join(ROOT, "train_cifar10.ipynb")
REGENERATE = "jupytext --from py:percent --to ipynb --update --set-kernel python3 train_cifar10.py"


def cells(notebook):
    return [(cell.cell_type, cell.source, cell.metadata.get("tags", [])) for cell in notebook.cells]


def test_notebook_has_the_same_cells_as_the_script():
    from_script = jupytext.read(SCRIPT, fmt="py:percent")
    committed = nbformat.read(NOTEBOOK, as_version=4)
    assert cells(committed) == cells(from_script), f"out of date: run {REGENERATE}"
    assert all(not cell.get("outputs") for cell in committed.cells), "commit it without outputs"
    tagged = [
        cell.source for cell in committed.cells if "parameters" in cell.metadata.get("tags", [])
    ]
    assert len(tagged) == 1 and "epochs = " in tagged[0]


def test_readme_gives_the_regenerate_command():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert REGENERATE in readme


def test_notebook_runs_in_a_kernel_with_papermill_parameters(tiny_cifar10, tmp_path):
    output_dir = tmp_path / "out"
    executed = tmp_path / "executed.ipynb"
    parameters = {"data_dir": str(tiny_cifar10), "output_dir": str(output_dir), "epochs": 2}
    command = [
        sys.executable,
        "-m",
        "papermill",
        NOTEBOOK,
        str(executed),
        "--cwd",
        str(tmp_path),
        "-k",
        "python3",
        "-y",
        json.dumps(parameters),
    ]
    process = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, describe(process)
    assert sorted(os.listdir(output_dir)) == sorted(FINAL_OUTPUTS)
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 2
    notebook = nbformat.read(str(executed), as_version=4)
    pictures = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(pictures) == 7, "the plots should show inline in the notebook"


def test_housekeeping_cells_are_folded_and_introduced_as_skippable():
    """Each housekeeping cell is folded in the notebook, comes after the header and the plan,
    and follows at most two sentences that begin by saying a first reading can skip it; no
    story cell is folded."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    first_step = next(i for i, cell in enumerate(notebook.cells) if "## 1. " in cell.source)
    housekeeping = 0
    for index, cell in enumerate(notebook.cells):
        folded = cell.metadata.get("jupyter", {}).get("source_hidden") is True
        if "housekeeping" not in cell.metadata.get("tags", []):
            assert not folded, f"a story cell is folded:\n{cell.source[:200]}"
            continue
        housekeeping += 1
        assert cell.cell_type == "code" and folded, f"not folded:\n{cell.source[:200]}"
        assert index > first_step, f"housekeeping before the plan:\n{cell.source[:200]}"
        before = notebook.cells[index - 1]
        introduction = " ".join(before.source.split("\n\n")[-1].split())
        assert before.cell_type == "markdown", f"no introduction:\n{cell.source[:200]}"
        assert introduction.startswith("Housekeeping (skip on a first reading): "), introduction
        plain = re.sub(r"`[^`]*`|\([^()]*\)", "", introduction)  # code and asides hold no ends
        assert len(re.findall(r"[.!?](?:\s|$)", plain)) <= 2, f"over two sentences: {introduction}"
    assert housekeeping >= 10
