"""Tests of the torch-free checkpoint importer against the official outputs."""

import json
import os
import pickle
import zipfile

import keras
import numpy as np
import pytest

from keras_mixkd import models
from keras_mixkd.models import torch_import
from keras_mixkd.models._torch_reader import read_checkpoint
from tests.models.torch_files import View
from tests.models.torch_files import write_legacy
from tests.models.torch_files import write_zip

#: The official checkpoints copied into tests/fixtures (see its README.md).
REFERENCE_ARCHS = ["resnet20", "ShuffleV1", "ShuffleV2"]


def _logits(model, reference_dir, arch):
    io_ = np.load(reference_dir / f"{arch}_io.npz")
    out = keras.ops.convert_to_numpy(model(io_["input_nhwc"], training=False))
    return out, io_["logits"]


def _assert_reference_logits(model, reference_dir, arch, classes=None):
    out, expected = _logits(model, reference_dir, arch)
    expected = expected[:, :classes]
    error = np.abs(out - expected).max()
    assert error <= 1e-4 * np.abs(expected).max(), (arch, error)


def _state(reference_dir, arch):
    return torch_import.load_torch_state_dict(reference_dir / f"{arch}.pth")


# --- Official checkpoints. ---------------------------------------------------

@pytest.mark.parametrize("arch", REFERENCE_ARCHS)
def test_reference_checkpoint_logits(reference_dir, arch):
    model = models.create(arch)
    models.load_torch_weights(model, reference_dir / f"{arch}.pth")
    _assert_reference_logits(model, reference_dir, arch)


@pytest.mark.parametrize("arch", ["MobileNetV2", "ShuffleV1", "ShuffleV2"])
def test_parameter_and_bn_counts(reference_dir, arch):
    params = json.loads((reference_dir / "model_params.json").read_text())
    expected = params[arch]
    model = models.create(arch)
    count = lambda ws: sum(int(np.prod(w.shape)) for w in ws)  # noqa: E731
    bn = [l for l in model.layers
          if isinstance(l, keras.layers.BatchNormalization)]
    assert count(model.trainable_weights) == expected["trainable_params"]
    assert len(bn) == expected["bn_layers"]
    assert count(model.non_trainable_weights) == expected["bn_running_values"]
    assert model.output.shape == (None, 100)


def test_bare_state_dict_and_legacy_format(reference_dir, tmp_path):
    state = _state(reference_dir, "resnet20")
    for path in (write_zip(tmp_path / "bare.pth", state),
                 write_legacy(tmp_path / "legacy.pth",
                               {"epoch": 240, "model": state})):
        model = models.load_torch_weights(models.create("resnet20"), path)
        _assert_reference_logits(model, reference_dir, "resnet20")


def test_reader_honours_offset_and_stride(tmp_path):
    storage = np.arange(12.0)
    path = write_zip(tmp_path / "views.pth", {
        "x": View(storage, 2, (2, 3), (1, 2)),  # storage[2 + i + 2 * j]
        "empty": View(storage, 0, (0, 5), (5, 1))})
    state = read_checkpoint(path)
    expected = storage[2 + np.arange(2)[:, None] + 2 * np.arange(3)]
    np.testing.assert_array_equal(state["x"], expected)
    assert state["empty"].shape == (0, 5)


def test_convert_round_trip(reference_dir, tmp_path):
    out = tmp_path / "ShuffleV2.keras"
    torch_import.convert_torch_checkpoint(
        "ShuffleV2", reference_dir / "ShuffleV2.pth", out)
    _assert_reference_logits(keras.saving.load_model(out), reference_dir,
                             "ShuffleV2")


def test_convert_reads_num_classes(reference_dir, tmp_path):
    state = _state(reference_dir, "resnet20")
    for key in ("fc.weight", "fc.bias"):
        state[key] = state[key][:10]
    models.create("resnet20")
    model = torch_import.convert_torch_checkpoint(
        "resnet20", write_zip(tmp_path / "c10.pth", state),
        tmp_path / "c10.keras")
    assert model.output.shape == (None, 10)
    _assert_reference_logits(model, reference_dir, "resnet20", classes=10)


# --- Refusals and errors. -----------------------------------------------------

class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("protocol", [2, 4])
def test_malicious_checkpoint_is_refused(tmp_path, fmt, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"model": _Payload(marker)}, protocol=protocol)
    assert b"system" in payload  # plain pickle.load would run the command
    path = tmp_path / "evil.pth"
    if fmt == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", payload)
    else:
        path.write_bytes(payload)
    model = models.create("resnet20")
    # UnsafeCheckpointError is a pickle.UnpicklingError.
    with pytest.raises(pickle.UnpicklingError,
                       match=r"Refusing to load global '(posix|os)\.system'"):
        models.load_torch_weights(model, path)
    assert not marker.exists()


def _weights(model):
    return [np.array(w.numpy()) for w in model.weights]


def _assert_refused(model, path, error, match):
    before = _weights(model)
    with pytest.raises(error, match=match):
        models.load_torch_weights(model, path)
    for old, new in zip(before, _weights(model)):
        np.testing.assert_array_equal(old, new)  # all or nothing


def test_missing_and_unexpected_keys(reference_dir, tmp_path):
    state = _state(reference_dir, "resnet20")
    model = models.create("resnet20")
    missing = dict(state)
    del missing["layer1.0.bn2.running_var"]
    _assert_refused(model, write_zip(tmp_path / "missing.pth", missing),
                    torch_import.CheckpointMismatchError,
                    r"missing from the checkpoint \(1\): "
                    r"'layer1.0.bn2.running_var'")
    extra = {**state, "head.weight": np.zeros((3, 4), "float32")}
    _assert_refused(model, write_zip(tmp_path / "extra.pth", extra),
                    torch_import.CheckpointMismatchError,
                    r"unexpected in the checkpoint \(1\): 'head.weight'")


def test_other_architecture_shape_mismatch(reference_dir):
    _assert_refused(
        models.create("resnet8x4"), reference_dir / "resnet20.pth",
        torch_import.CheckpointMismatchError,
        r"(?s)layer 'conv1': 'conv1.weight' has shape \(16, 3, 3, 3\) in the "
        r"checkpoint but the model expects \(32, 3, 3, 3\).*another "
        r"architecture")


def test_unreadable_files(reference_dir, tmp_path):
    model = models.create("resnet20")
    data = (reference_dir / "resnet20.pth").read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[:len(data) // 2])
    _assert_refused(model, truncated, torch_import.CheckpointFormatError,
                    "truncated or corrupt")
    noise = tmp_path / "noise.pth"
    noise.write_bytes(b"\x00" + np.random.default_rng(0).bytes(4096))
    _assert_refused(model, noise, torch_import.CheckpointFormatError,
                    "is not a PyTorch checkpoint")
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=2))
    _assert_refused(model, plain, ValueError, "Not a PyTorch checkpoint")
    no_state = write_zip(tmp_path / "no_state.pth", {"epoch": 3})
    _assert_refused(model, no_state, ValueError, "No state dict")
    _assert_refused(model, tmp_path / "absent.pth", FileNotFoundError,
                    "No checkpoint file at .*absent.pth")


@pytest.mark.parametrize("offset, size, stride, match", [
    (0, (2,), (9,), "overruns its storage of 4 elements"),
    (3, (2,), (1,), "describes 2 elements but its storage holds 1"),
    (-1, (2,), (1,), "non-negative offset"),
    (0, (5,), (1,), "describes 5 elements but its storage holds 4"),
    (0, (2 ** 40,), (0,), "describes 1099511627776 elements"),
    (0, (2, 2), (0, 1), "overlaps itself"),
    (0, (2, 2), (1, 1), "overlaps itself"),
    (0, (2, 2, 1), (1, 2, 0), None),  # stride 0 on a dimension of 1: fine
    (1, (3, 1), (1, 0), None),
])
def test_views_that_overrun_or_overlap_are_corrupt(tmp_path, offset, size,
                                                   stride, match):
    path = write_zip(tmp_path / "view.pth",
                     {"x": View(np.arange(4.0), offset, size, stride)})
    if match is None:
        expected = np.lib.stride_tricks.as_strided(
            np.arange(4.0)[offset:], size, [8 * s for s in stride])
        np.testing.assert_array_equal(read_checkpoint(path)["x"], expected)
        return
    with pytest.raises(torch_import.CheckpointFormatError, match=match):
        read_checkpoint(path)
