"""The tutorial notebooks: generated, clean, and running top to bottom.

Each notebook runs in a fresh ``python3`` kernel of this interpreter, from
``notebooks/``, with ``MIXKD_NOTEBOOK_EPOCHS=1`` (about half a minute each on
a 2-core CPU).
"""

import importlib.util
import json
import os
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
REFERENCE_CHECKPOINT = ROOT / "tests" / "fixtures" / "resnet20.pth"


def generator():
    """Imports ``notebooks/make_notebooks.py``."""
    spec = importlib.util.spec_from_file_location(
        "make_notebooks", NOTEBOOKS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_are_generated_valid_and_without_outputs():
    make = generator()
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(
        make.NOTEBOOKS)
    for name, cells in make.NOTEBOOKS.items():
        text = (NOTEBOOKS / name).read_text()
        assert text == make.render(cells), (
            f"{name} differs from its generator: run "
            "`python notebooks/make_notebooks.py`.")
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
        assert notebook.nbformat == 4
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None


def execute(name, tmp_path, monkeypatch):
    """Runs a notebook with one epoch; returns its text and image outputs."""
    if importlib.util.find_spec("ipykernel") is None:
        pytest.skip("ipykernel is not installed, so no kernel can run the "
                    "notebooks: pip install '.[test]'")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("MIXKD_NOTEBOOK_EPOCHS", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' scratch files
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    texts, images = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error"
            if output.output_type == "stream":
                texts.append(output.text)
            data = output.get("data", {})
            texts.append(data.get("text/plain", ""))
            images += "image/png" in data
    return "".join(texts), images


@pytest.mark.slow
def test_mixkd_on_digits_notebook(tmp_path, monkeypatch):
    text, images = execute("01_mixkd_on_digits.ipynb", tmp_path, monkeypatch)
    assert images == 1  # the training curves
    assert "official sampling:" in text and "exact sampling:" in text
    assert "per-sample temperatures of the teacher" in text
    for row in ("teacher resnet14", "resnet8 alone", "resnet8 + MixKD"):
        assert row in text


@pytest.mark.slow
def test_official_teacher_checkpoint_notebook(tmp_path, monkeypatch):
    text, _ = execute("02_official_teacher_checkpoint.ipynb", tmp_path,
                      monkeypatch)
    assert "UnsafeCheckpointError" in text
    assert "this ran while loading" not in text
    assert "matches the official logits" in text
    counts = json.loads((REFERENCE_CHECKPOINT.parent /
                         "model_params.json").read_text())
    count = f"{counts['resnet20']['trainable_params']:,}"
    assert (f"trainable parameters: checkpoint {count}, keras {count}, "
            f"official {count}") in text
    assert "CheckpointMismatchError" in text
    assert text.count("same logits as the imported model: True") == 2
    assert "student resnet8" in text
    assert list(tmp_path.glob("mixkd-notebook-*/student/summary.json"))
