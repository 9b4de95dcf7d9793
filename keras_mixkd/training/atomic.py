"""Files written whole or not at all: a temporary name, then a rename."""

import os
import pathlib

import keras


def replace_from_temporary(path, write):
    """Calls ``write(tmp)`` then renames ``tmp`` to ``path``.

    A failure (or a kill) during ``write`` leaves ``path`` as it was; the
    temporary file (``.tmp-<name>`` beside it) is removed on failure.

    Args:
        path: the file to (re)write.
        write: function writing the new content to the path it is given.
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path, text):
    """Writes ``text`` to ``path`` through a temporary file and a rename."""
    replace_from_temporary(path, lambda tmp: tmp.write_text(text))


def portable_copy(model):
    """An uncompiled copy of ``model`` with its weights.

    Its ``.keras`` file loads with plain `keras.saving.load_model`, without
    keras_mixkd: it holds no compile configuration (no custom optimizer)
    and no optimizer state.
    """
    if not model.compiled:
        return model
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    return copy


def atomic_save(model, path):
    """Saves ``model`` as ``path`` (.keras) through a temporary file.

    The file holds the model without its compile configuration (see
    `portable_copy`).
    """
    replace_from_temporary(path, portable_copy(model).save)
