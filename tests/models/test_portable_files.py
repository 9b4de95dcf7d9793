"""Zoo models saved as ``.keras`` load with plain Keras, no keras_mixkd."""

import pytest
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np

from keras_mixkd import models
from keras_mixkd.models.shufflenet import channel_shuffle
from keras_mixkd.models.shufflenet import channel_split

#: Run in a fresh interpreter: keras_mixkd cannot be imported there (it is
#: installed in the environment, so an import hook refuses it), and every
#: saved model must load with `keras.saving.load_model`'s defaults (safe mode)
#: and give the same outputs. It reads the names of the saved models from its
#: standard input as they are written, so loading overlaps saving.
LOADER = textwrap.dedent("""
    import sys

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "keras_mixkd":
                raise ImportError("keras_mixkd must not be imported here")

    sys.meta_path.insert(0, Refuse())
    import json
    import keras
    import numpy as np

    worst = {}
    for name in map(str.strip, sys.stdin):
        model = keras.saving.load_model(f"{name}.keras")
        io = np.load(f"{name}.npz")
        out = keras.ops.convert_to_numpy(model(io["x"], training=False))
        scale = float(np.abs(io["y"]).max())
        worst[name] = float(np.abs(out - io["y"]).max()) / max(scale, 1e-30)
    assert not any(m.startswith("keras_mixkd") for m in sys.modules)
    print(json.dumps(worst))
""")


@pytest.mark.slow
def test_every_zoo_model_loads_without_keras_mixkd(tmp_path):
    names = models.available()
    assert len(names) == 22
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    loader = subprocess.Popen(
        [sys.executable, "-I", "-c", LOADER], cwd=tmp_path, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        for name in names:
            model = models.create(name, num_classes=3)
            y = keras.ops.convert_to_numpy(model(x, training=False))
            model.save(tmp_path / f"{name}.keras")
            np.savez(tmp_path / f"{name}.npz", x=x, y=y)
            keras.backend.clear_session()
            loader.stdin.write(name + "\n")
            loader.stdin.flush()
        stdout, stderr = loader.communicate(timeout=300)
    finally:
        loader.kill()
    assert loader.returncode == 0, stderr[-3000:]
    worst = json.loads(stdout.strip().splitlines()[-1])
    assert sorted(worst) == sorted(names)
    # Relative to each model's largest logit, not bit-identical: here the
    # model computes with `use_fused_kernel`'s FusedBatchNormV3, the loader
    # with Keras's BatchNormalization (rsqrt, mul, add): the same formula,
    # but oneDNN may order or vectorise the fused kernel differently by CPU
    # (bit-identical on this AVX-512 CPU; on a Xeon with AMX resnet110
    # differed by 140.0). Untrained post-activation nets have huge logits:
    # resnet110's max|logit| is 2e7 to 2e8 for these inputs (random
    # weights), so 140.0 was ~1e-6 to 1e-5 of the scale, tens of float32
    # roundings (1.2e-7) accumulated over 110 BatchNorm layers. 1e-4 leaves
    # room for that; a file that loads other weights or layers is off by the
    # order of the logits themselves.
    assert max(worst.values()) <= 1e-4, worst


def _torch_shuffle(x_nchw, groups):
    """The official ``ShuffleBlock`` transcribed to numpy (NCHW)."""
    n, c, h, w = x_nchw.shape
    return x_nchw.reshape(n, groups, c // groups, h, w).transpose(
        0, 2, 1, 3, 4).reshape(n, c, h, w)


def test_channel_shuffle_and_split_match_the_official_blocks():
    x = np.random.default_rng(1).normal(size=(2, 3, 2, 12)).astype("float32")
    nchw = x.transpose(0, 3, 1, 2)
    inputs = keras.Input(x.shape[1:])
    first, rest = channel_split(inputs, 0.5, "split")
    model = keras.Model(inputs, [channel_shuffle(inputs, 3, "s3"),
                                 channel_shuffle(inputs, 2, "s2"),
                                 first, rest])
    s3, s2, a, b = (keras.ops.convert_to_numpy(t) for t in model(x))
    np.testing.assert_array_equal(
        s3, _torch_shuffle(nchw, 3).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(
        s2, _torch_shuffle(nchw, 2).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(a, x[..., :6])  # SplitBlock: x[:, :c]
    np.testing.assert_array_equal(b, x[..., 6:])
