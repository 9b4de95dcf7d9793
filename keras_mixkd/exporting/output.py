"""Where an export goes: its metadata file, and no silent overwriting.

A LiteRT export is one file and its metadata file is named after it
(``student.tflite`` -> ``student.json``), so two exports into one folder
keep their own; a SavedModel export is a folder and keeps its metadata
inside (``export.json``). An existing output (or its metadata file) is
refused unless ``overwrite`` is set; the refusal comes before anything is
written. With ``overwrite``, the new export is written under a temporary
name and then takes the old one's place.

Example:

>>> metadata_path("out/student.tflite", "litert")
PosixPath('out/student.json')
>>> check_output("out/student.tflite", "litert", overwrite=False)
"""

import os
import pathlib
import shutil
import tempfile

from keras_mixkd.training.atomic import atomic_write_text

#: The metadata file's name inside a SavedModel folder.
EXPORT_JSON = "export.json"

#: The file that marks a folder as a SavedModel.
_SAVED_MODEL_MARK = "saved_model.pb"


class OutputExistsError(FileExistsError, ValueError):
    """An export's output exists and ``overwrite`` was not set."""


def metadata_path(path, format):
    """The metadata file of the export at ``path``.

    Args:
        path: the output, a ``.tflite`` file or a SavedModel folder.
        format: ``"litert"`` or ``"saved_model"``.

    Returns:
        ``path`` with the suffix ``.json`` for LiteRT
        (``student.tflite`` -> ``student.json``), ``path / "export.json"``
        for a SavedModel.
    """
    path = pathlib.Path(path)
    if format == "saved_model":
        return path / EXPORT_JSON
    return path.with_suffix(".json")


def _exists(path):
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


def check_output(path, format, overwrite=False):
    """Raises unless an export may be written at ``path``.

    Args:
        path: the output, a ``.tflite`` file or a SavedModel folder.
        format: ``"litert"`` or ``"saved_model"``.
        overwrite: whether an earlier export there may be replaced.

    Raises:
        ValueError: when ``path`` is of the wrong kind (a folder for a
            LiteRT file, a file for a SavedModel, a folder with other
            contents than a SavedModel, a ``.json`` name), even with
            ``overwrite``.
        OutputExistsError: when the output or its metadata file exists and
            ``overwrite`` is False; it names the path and the flag.
    """
    path = pathlib.Path(path)
    if format == "litert":
        if path.suffix == ".json":
            raise ValueError(
                f"`output={path}`: a .json name is taken by the export's "
                "metadata file; name the LiteRT file e.g. student.tflite.")
        if path.is_dir():
            raise ValueError(
                f"`output={path}` is a folder; a LiteRT export is a file: "
                f"give e.g. `output={path / 'student.tflite'}`.")
    elif path.exists() and not path.is_dir():
        raise ValueError(
            f"`output={path}` is a file; a SavedModel export is a folder: "
            "give a folder name, or `format=litert` for a .tflite file.")
    elif _exists(path) and not (path / _SAVED_MODEL_MARK).is_file():
        raise ValueError(
            f"`output={path}` is a folder that holds no SavedModel; an "
            "export would mix with its files and `overwrite=True` would delete "
            "them. Give a new folder.")
    if overwrite:
        return
    for existing in (path, metadata_path(path, format)):
        if _exists(existing):
            raise OutputExistsError(
                f"{existing} exists (an earlier export). Pass `overwrite=True` "
                "(Python: overwrite=True) to replace it, or choose another "
                "`output`.")


def replace_output(path, format, write, metadata_text):
    """Writes an export under a temporary name, then moves it into place.

    Args:
        path: the output (its parent folder exists).
        format: ``"litert"`` or ``"saved_model"``.
        write: ``write(target_path)`` writes the export at ``target_path``.
        metadata_text: the metadata file's contents, written once the
            export is in place.
    """
    path = pathlib.Path(path)
    with tempfile.TemporaryDirectory(dir=path.parent,
                                     prefix=f".tmp-{path.name}-") as tmp:
        target = pathlib.Path(tmp) / path.name
        write(target)
        if format == "saved_model":
            if path.is_dir():
                shutil.rmtree(path)
            os.replace(target, path)
        else:
            os.replace(target, path)
    atomic_write_text(metadata_path(path, format), metadata_text)
