"""train_cifar10.ipynb is train_cifar10.py as a notebook, and it runs in a real Jupyter kernel."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys

import jupytext
import nbformat

from conftest import ROOT, SCRIPT, describe
from test_robustness import AFTER_A_RUN

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
    parameters = {"data_dir": str(tiny_cifar10), "trust_data": True, "epochs": 2}
    parameters["output_dir"] = str(output_dir)
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
    assert sorted(os.listdir(output_dir)) == AFTER_A_RUN
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


def test_one_story_one_skip():
    """The housekeeping cells stand together in one folded block, inside step 1, after one
    introduction that says where to skip to; from there to the end, no housekeeping cell
    interrupts the story, and no story cell is folded."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    kinds = "".join(
        "H" if "housekeeping" in cell.metadata.get("tags", []) else "S" for cell in notebook.cells
    )
    assert re.fullmatch(r"S+H+S+", kinds), f"housekeeping in more than one run: {kinds}"
    first, last = kinds.index("H"), kinds.rindex("H")
    step = [
        next(i for i, c in enumerate(notebook.cells) if f"## {n}. " in c.source) for n in (1, 2)
    ]
    assert step[0] < first and last < step[1], "the block should stand in step 1"
    for cell in notebook.cells:
        folded = cell.metadata.get("jupyter", {}).get("source_hidden") is True
        housekeeping = "housekeeping" in cell.metadata.get("tags", [])
        assert folded == housekeeping, f"folded {folded}:\n{cell.source[:200]}"
        assert cell.cell_type == "code" or not housekeeping
    introduction = notebook.cells[first - 1]
    assert introduction.cell_type == "markdown"
    skip_to = re.match(
        r"### Housekeeping: skip it on a first reading, down to \"([^\"]+)\"\n",
        introduction.source,
    )
    assert skip_to, introduction.source
    resumes = notebook.cells[last + 1]
    assert resumes.cell_type == "markdown" and resumes.source.startswith(f"### {skip_to[1]}\n")
    assert sum("Housekeeping" in cell.source for cell in notebook.cells) == 1


def colab_section(notebook):
    """The cells of the section that Colab shows collapsed: from the heading cell named in
    the notebook's colab.collapsed_sections to the next heading of its level or higher."""
    (section_id,) = notebook.metadata["colab"]["collapsed_sections"]
    start = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("id") == section_id)
    level = len(re.match(r"#+ ", notebook.cells[start].source)[0]) - 1
    end = next(
        i
        for i, cell in enumerate(notebook.cells)
        if i > start and cell.cell_type == "markdown" and re.match(f"#{{1,{level}}} ", cell.source)
    )
    return notebook.cells[start:end], notebook.cells[end]


def test_colab_shows_the_housekeeping_as_one_collapsed_section():
    """Colab folds by section, not by jupyter.source_hidden: the housekeeping has a heading of
    its own, listed in colab.collapsed_sections, and the section ends at "The libraries"."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    section, after = colab_section(notebook)
    housekeeping = [c for c in notebook.cells if "housekeeping" in c.metadata.get("tags", [])]
    assert section[1:] == housekeeping, "the section should hold the housekeeping, all of it"
    assert after.source.startswith("### The libraries")
    assert not any("parameters" in cell.metadata.get("tags", []) for cell in section)


def test_regenerating_the_notebook_keeps_its_colab_metadata(tmp_path):
    shutil.copy(SCRIPT, tmp_path)
    shutil.copy(NOTEBOOK, tmp_path)
    command = [sys.executable, "-m", *REGENERATE.split()]
    regenerated = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert regenerated.returncode == 0, describe(regenerated)
    notebook = nbformat.read(str(tmp_path / "train_cifar10.ipynb"), as_version=4)
    committed = nbformat.read(NOTEBOOK, as_version=4)
    assert notebook.metadata["colab"] == committed.metadata["colab"]
    assert colab_section(notebook)[0] == colab_section(committed)[0]


def test_the_story_calls_the_housekeeping_only_by_the_names_the_introduction_gives():
    """Every name the housekeeping defines that the story uses is named in the header or the
    introduction, so a reader who skipped the block knows where it comes from."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    defined, used, intro = set(), set(), ""
    for cell in notebook.cells:
        if "housekeeping" in cell.metadata.get("tags", []):
            defined |= {
                node.name
                for node in ast.parse(cell.source).body
                if isinstance(node, ast.FunctionDef | ast.ClassDef)
            }
        elif cell.cell_type == "code":
            used |= {
                node.id for node in ast.walk(ast.parse(cell.source)) if isinstance(node, ast.Name)
            }
        else:
            intro += cell.source
    borrowed = defined & used
    assert borrowed >= {"load_cifar10", "open_run_folder", "resume_from_backup", "publish_outputs"}
    for name in borrowed:
        assert f"`{name}`" in intro, f"the story uses {name} without saying what it is"
