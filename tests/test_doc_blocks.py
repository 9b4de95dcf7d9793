"""Every code block of README.md and docs/*.md runs as written.

Python blocks run on tiny data: each page's blocks run in order in one
namespace (a page is one session), in a temporary folder, with scikit-learn's
digits cut to 4 training and 2 test images per class (every loader of the
package reads it through `keras_mixkd.data.digits.digits_arrays`). A page's
fragments may use the names of `context` (a small teacher and student, the
digits pipelines, uint8 images); a line ``name = ...`` in a block stands for
that context and is skipped. A block that cannot run here carries, on the
line before its fence, ``<!-- not run: REASON -->``.

Every ``mixkd`` command of any block names an existing command and flags it
takes.
"""

import pathlib
import re

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->\s*$")
PLACEHOLDER = re.compile(r"^\s*\w+ = \.\.\.(\s*#.*)?$")


def blocks(page):
    """``(line, language, code, reason not run or None)`` of a page."""
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        reason = NOT_RUN.search(before)
        found.append((text[:match.start()].count("\n") + 1, match.group(1),
                      match.group(2), reason and reason.group(1)))
    return found


def python_pages():
    """The pages with a Python block to run."""
    return [p for p in PAGES if any(lang == "python" and not reason
                                    for _, lang, _, reason in blocks(p))]


@pytest.fixture
def tiny_digits(monkeypatch, tmp_path):
    """Digits cut to 4 training and 2 test images per class, cwd a
    temporary folder."""
    from keras_mixkd.data import digits

    arrays = digits.digits_arrays

    def tiny(*args, **kwargs):
        x_train, x_test, y_train, y_test = arrays(*args, **kwargs)
        train = np.concatenate([np.flatnonzero(y_train == c)[:4]
                                for c in range(10)])
        test = np.concatenate([np.flatnonzero(y_test == c)[:2]
                               for c in range(10)])
        return x_train[train], x_test[test], y_train[train], y_test[test]

    monkeypatch.setattr(digits, "digits_arrays", tiny)
    monkeypatch.chdir(tmp_path)


def context():
    """The names a page's fragments may use."""
    import keras
    import tensorflow as tf

    import keras_mixkd

    train_ds, test_ds, info = keras_mixkd.data.load("digits")

    def create(name):
        return keras_mixkd.models.create(name, info.num_classes,
                                         input_shape=info.image_shape)

    return {"keras": keras, "tf": tf, "np": np, "keras_mixkd": keras_mixkd,
            "train_ds": train_ds, "test_ds": test_ds, "info": info,
            "teacher": create("resnet8"), "student": create("resnet8"),
            "uint8_images": np.random.default_rng(0).integers(
                0, 256, (4, *info.image_shape), dtype=np.uint8)}


def runnable(code):
    """The block without its placeholder lines."""
    return "\n".join(line for line in code.splitlines()
                     if not PLACEHOLDER.match(line))


@pytest.mark.parametrize("page", python_pages(), ids=lambda p: p.name)
def test_python_blocks_run_as_written(page, tiny_digits):
    namespace = context()
    ran = 0
    for line, language, code, reason in blocks(page):
        if language != "python" or reason:
            continue
        try:
            exec(compile(runnable(code), f"{page.name}:{line}", "exec"),
                 namespace)
        except Exception as e:  # the page and line of the failing block
            raise AssertionError(f"{page.name}, the block at line {line}: "
                                 f"{type(e).__name__}: {e}") from e
        ran += 1
    assert ran


def commands(code):
    """The ``mixkd`` command lines of a block, continuations joined and
    comments dropped."""
    joined = code.replace("\\\n", " ")
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith("mixkd "):
            yield line


def test_every_mixkd_command_in_the_docs_parses():
    from keras_mixkd.cli import flag_docs
    from keras_mixkd.cli.main import COMMANDS

    general = {"help", "helpfull", "version"}
    checked = 0
    for page in PAGES:
        for line, _, code, _ in blocks(page):
            for command in commands(code):
                name = command.split()[1]
                where = f"{page.name}:{line}: {command}"
                if name.startswith("--"):
                    assert name[2:] in general, where
                    continue
                assert name in COMMANDS, where
                for flag in re.findall(r"(?<![\w-])--(\w+)", command):
                    flag = flag[2:] if flag.startswith("no") and (
                        flag[2:] in flag_docs.COMMAND_FLAGS[name]) else flag
                    assert (flag in flag_docs.COMMAND_FLAGS[name]
                            or flag in general), (where, flag)
                checked += 1
    assert checked > 20


def test_a_block_not_run_says_why():
    for page in PAGES:
        for line, language, _, reason in blocks(page):
            if reason is not None:
                assert language == "python" and len(reason) > 10, (
                    page.name, line)


def test_relative_links_point_to_files():
    for page in [*PAGES, ROOT / "RESULTS.md"]:
        text = FENCE.sub("", page.read_text())
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), (page.name, target)
