"""`ConvRegressor` against a NumPy transcription of RepDistiller's
``ConvReg`` (PyTorch's convolution semantics), its shapes, initialisation,
refusals, training and serialisation."""

import keras
import numpy as np
import pytest

from keras_mixkd.models import ConvRegressor


def _conv(x, kernel, bias, stride, pad):
    """``nn.Conv2d`` on NHWC: symmetric zero padding, no kernel flip."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    kh, kw = kernel.shape[:2]
    height = (x.shape[1] - kh) // stride + 1
    width = (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], height, width, kernel.shape[-1]))
    for i in range(height):
        for j in range(width):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, i, j] = np.einsum("bhwc,hwco->bo", patch, kernel)
    return out + bias


def _conv_transpose(x, kernel, bias, stride, pad):
    """``nn.ConvTranspose2d`` on NHWC; ``kernel`` in Keras's (kh, kw, out,
    in) layout: each input pixel scatters ``kernel[a, b] @ x`` to ``stride *
    i + a``, and ``pad`` rows and columns are cropped from each side."""
    kh, kw, cout, _ = kernel.shape
    batch, height, width, _ = x.shape
    full = np.zeros((batch, (height - 1) * stride + kh,
                     (width - 1) * stride + kw, cout))
    for i in range(height):
        for j in range(width):
            for a in range(kh):
                for b in range(kw):
                    full[:, stride * i + a, stride * j + b] += (
                        x[:, i, j] @ kernel[a, b].T)
    return full[:, pad:full.shape[1] - pad, pad:full.shape[2] - pad] + bias


def _official(x, regressor):
    conv = regressor._steps[0] if isinstance(
        regressor._steps[0], (keras.layers.Conv2D,
                              keras.layers.Conv2DTranspose)) \
        else regressor._steps[1]
    kernel, bias = (np.asarray(w, dtype="float64") for w in conv.weights)
    student, teacher = x.shape[1], regressor.teacher_shape[0]
    if student == 2 * teacher:
        y = _conv(x, kernel, bias, 2, 1)
    elif 2 * student == teacher:
        y = _conv_transpose(x, kernel, bias, 2, 1)
    else:
        y = _conv(x, kernel, bias, 1, 0)
    bn = next(s for s in regressor._steps
              if isinstance(s, keras.layers.BatchNormalization))
    gamma, beta, mean, var = (np.asarray(w, dtype="float64")
                              for w in bn.weights)
    y = (y - mean) / np.sqrt(var + 1e-5) * gamma + beta
    return np.maximum(y, 0) if regressor.use_relu else y


@pytest.mark.parametrize("student_shape,teacher_shape", [
    ((16, 16, 8), (8, 8, 12)),     # twice the size: 3x3, stride 2, pad 1
    ((4, 4, 8), (8, 8, 6)),        # half: 4x4 transposed, stride 2, pad 1
    ((8, 8, 8), (8, 8, 16)),       # equal: 1x1
    ((10, 9, 4), (8, 8, 5)),       # larger: (1 + 10 - 8) x (1 + 9 - 8)
])
@pytest.mark.parametrize("use_relu", [True, False])
def test_matches_official_conv_reg(student_shape, teacher_shape, use_relu):
    rng = np.random.default_rng(0)
    regressor = ConvRegressor(teacher_shape, use_relu=use_relu)
    regressor.build((None,) + student_shape)
    bn = regressor._steps[-2 if use_relu else -1]
    bn.set_weights([rng.uniform(0.5, 1.5, teacher_shape[-1]),
                    rng.normal(size=teacher_shape[-1]),
                    rng.normal(size=teacher_shape[-1]),
                    rng.uniform(0.5, 2.0, teacher_shape[-1])])
    x = rng.normal(size=(2,) + student_shape)
    y = np.asarray(regressor(x.astype("float32"), training=False))
    assert y.shape == (2,) + teacher_shape
    expected = _official(x, regressor)
    np.testing.assert_allclose(y, expected, rtol=1e-4,
                               atol=1e-5 * np.max(np.abs(expected)))


def test_initialisation_is_pytorchs_default():
    """``kaiming_uniform_(a=sqrt(5))``: kernel and bias within 1/sqrt(fan_in)."""
    regressor = ConvRegressor((8, 8, 32))
    regressor.build((None, 16, 16, 64))
    kernel, bias = regressor._steps[1].weights
    bound = 1 / np.sqrt(64 * 9)
    assert np.max(np.abs(kernel)) <= bound
    assert np.max(np.abs(kernel)) > 0.9 * bound
    assert np.max(np.abs(bias)) <= bound and np.std(np.asarray(bias)) > 0


def test_refuses_a_smaller_student_map():
    regressor = ConvRegressor((32, 32, 16))
    with pytest.raises(ValueError, match="twice as large, half as large"):
        regressor.build((None, 8, 8, 16))


@pytest.mark.parametrize("shape", [(8, 8), (None, 8, 16), (8, 0, 3)])
def test_refuses_a_bad_teacher_shape(shape):
    with pytest.raises(ValueError, match="teacher_shape"):
        ConvRegressor(shape)


def test_trains_and_round_trips_through_a_saved_model(tmp_path):
    inputs = keras.Input((8, 8, 4))
    model = keras.Model(inputs, ConvRegressor((4, 4, 6), name="regressor")(
        inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 8, 8, 4)).astype("float32")
    target = rng.normal(size=(8, 4, 4, 6)).astype("float32")
    before = [np.array(w) for w in model.weights]
    model.fit(x, target, epochs=2, verbose=0)
    changed = [not np.allclose(a, np.asarray(b))
               for a, b in zip(before, model.weights)]
    assert any(changed)
    path = tmp_path / "regressor.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    layer = restored.get_layer("regressor")
    assert layer.get_config()["teacher_shape"] == [4, 4, 6]
    np.testing.assert_allclose(np.asarray(restored(x)), np.asarray(model(x)),
                               rtol=1e-6)
