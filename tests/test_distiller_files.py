"""A saved Distiller loads in a fresh process after ``import keras, keras_mixkd``.

Fresh processes, because a test process has already imported (and so
registered) every class of the package.
"""

import importlib
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_mixkd
from tests.helpers import tiny_data
from tests.helpers import tiny_model

ROOT = pathlib.Path(keras_mixkd.__file__).resolve().parents[1]


def _python(script):
    """Runs ``script`` in a fresh interpreter; returns (stdout JSON, stderr)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    done = subprocess.run([sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def _registered(imports):
    """The package's registered Keras names after ``imports`` in a fresh
    process."""
    out, _ = _python(
        f"{imports}\nimport json, keras\n"
        "print(json.dumps(sorted(k for k in keras.saving.get_custom_objects()"
        " if k.startswith('keras_mixkd>'))))")
    return out


def _every_registered_name():
    """Every name the package registers: the modules that register any,
    found in the source, imported here."""
    package = ROOT / "keras_mixkd"
    for path in package.rglob("*.py"):
        if "register_keras_serializable" in path.read_text():
            parts = path.relative_to(ROOT).with_suffix("").parts
            importlib.import_module(".".join(
                parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(k for k in keras.saving.get_custom_objects()
                  if k.startswith("keras_mixkd>"))


@pytest.mark.slow
def test_import_registers_every_serializable_class():
    every = _every_registered_name()
    assert "keras_mixkd>Distiller" in every
    assert "keras_mixkd>WithoutActivation" in every
    assert _registered("import keras, keras_mixkd") == every
    # A bare import (as `mixkd --help` does) imports no Keras;
    # register_serializables (or the first public name) registers all.
    assert _registered("import keras_mixkd, sys\n"
                       "assert 'keras' not in sys.modules\n"
                       "keras_mixkd.register_serializables()") == every


@pytest.mark.slow
def test_saved_and_checkpointed_distillers_load_in_a_fresh_process(tmp_path):
    x, y = tiny_data(16)
    teacher = tiny_model("teacher", seed=7)
    teacher.compile(optimizer="adam", loss=keras.losses.
                    SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x, y, epochs=1, batch_size=8, verbose=0)  # Adam is built
    distiller = keras_mixkd.Distiller(student=tiny_model("student"),
                                      teacher=teacher, seed=3)
    distiller.compile(optimizer="sgd", metrics=["accuracy"])
    checkpoint = tmp_path / "checkpoint.keras"
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[
        keras.callbacks.ModelCheckpoint(str(checkpoint))])
    saved = tmp_path / "saved.keras"
    distiller.save(saved)
    np.save(tmp_path / "x.npy", x)
    expected = distiller.predict(x, verbose=0)
    out, stderr = _python(
        "import json, sys, numpy as np\n"
        "import keras, keras_mixkd\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        "out = {}\n"
        f"for name in ('saved', 'checkpoint'):\n"
        f"    path = {str(tmp_path)!r} + '/' + name + '.keras'\n"
        "    model = keras.saving.load_model(path)\n"
        "    out[name] = [type(model).__name__,\n"
        "                 model.predict(x, verbose=0).tolist(),\n"
        "                 int(model.optimizer.iterations.numpy())]\n"
        "print(json.dumps(out))\n")
    for name in ("saved", "checkpoint"):
        kind, predictions, iterations = out[name]
        assert kind == "Distiller"
        np.testing.assert_allclose(predictions, expected, rtol=1e-5,
                                   atol=1e-6)
        assert iterations == 2
    # The teacher's own optimizer is neither saved nor expected.
    assert "Skipping variable loading for optimizer" not in stderr
    assert "compile_config" not in distiller.get_config()["teacher"]
