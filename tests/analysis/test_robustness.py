"""FGSM and PGD in pixel space: closed form, epsilon ball, strength."""

import keras
import numpy as np
import pytest

from keras_mixkd import analysis
from tests.helpers import IMAGE_SHAPE
from tests.helpers import tiny_model

MEAN = np.array([0.5, 0.4, 0.3], "float32")
STD = np.array([0.2, 0.25, 0.3], "float32")
# Unnormalising and renormalising in float32 costs a little precision.
TOL = 1e-5


def _normalise(pixels, mean=MEAN, std=STD):
    return ((pixels - mean) / std).astype("float32")


def _pixels(images, mean=MEAN, std=STD):
    return images * std + mean


def _pixel_data(n, seed, classes=3):
    """Noisy copies of fixed class prototypes, pixels in [0, 1]."""
    prototypes = np.random.default_rng(0).uniform(
        0.2, 0.8, size=(classes, *IMAGE_SHAPE))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    noise = rng.normal(0.0, 0.3, size=(n, *IMAGE_SHAPE))
    return np.clip(prototypes[labels] + noise, 0, 1).astype("float32"), labels


@pytest.fixture(scope="module")
def trained():
    """A small classifier trained on normalised images, and test data."""
    keras.utils.set_random_seed(0)
    x_train, y_train = _pixel_data(300, seed=1)
    model = tiny_model("classifier", classes=3, hidden=32)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    model.fit(_normalise(x_train), y_train, epochs=10, batch_size=32,
              verbose=0)
    x_test, y_test = _pixel_data(200, seed=2)
    return model, _normalise(x_test), y_test


def _linear_model():
    """Two-class linear softmax model on flattened (normalised) images."""
    inputs = keras.Input(IMAGE_SHAPE)
    init = keras.initializers.GlorotUniform(seed=5)
    flat = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, kernel_initializer=init)(
        flat), name="linear")


@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (MEAN, STD)])
def test_fgsm_closed_form_on_a_linear_model(mean, std):
    # Binary softmax with logits z = W^T n(x) + b, n(x) = (x - mean) / std.
    # d CE / d z = p - onehot(y); for y = 0 that is (-p1, p1), so
    # d CE / d n = p1 * (W[:, 1] - W[:, 0]) and, since 1/std > 0 and p1 > 0,
    # sign(d CE / d x) = sign(W[:, 1 - y] - W[:, y]) elementwise.
    model = _linear_model()
    kernel = model.layers[-1].get_weights()[0]  # (features, 2)
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0.0, 1.0, size=(6, *IMAGE_SHAPE)).astype("float32")
    labels = np.array([0, 1, 0, 1, 1, 0])
    epsilon = 0.05
    direction = np.stack([kernel[:, 1 - y] - kernel[:, y] for y in labels])
    expected = np.clip(
        pixels + epsilon * np.sign(direction).reshape(pixels.shape), 0, 1)
    adversarial = analysis.fgsm(model, _normalise(pixels, mean, std), labels,
                                epsilon, mean=mean, std=std)
    np.testing.assert_allclose(_pixels(adversarial, mean, std), expected,
                               atol=TOL)


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_attacks_stay_in_the_pixel_ball_and_range(trained, attack):
    model, images, labels = trained
    images = images[:40]
    labels = labels[:40]
    epsilon = 0.1
    kwargs = {"steps": 5, "seed": 3} if attack == "pgd" else {}
    adversarial = getattr(analysis, attack)(model, images, labels, epsilon,
                                            mean=MEAN, std=STD, **kwargs)
    assert adversarial.shape == images.shape
    assert adversarial.dtype == np.float32
    clean, adv = _pixels(images), _pixels(adversarial)
    assert np.abs(adv - clean).max() <= epsilon + TOL
    assert adv.min() >= -TOL and adv.max() <= 1 + TOL
    # Pixels at 0 or 1 stay in range: the clip binds somewhere.
    assert np.isclose(adv, 0, atol=TOL).any() or np.isclose(
        adv, 1, atol=TOL).any()
    # The budget is used: most pixels move by the full epsilon.
    assert np.mean(np.isclose(np.abs(adv - clean), epsilon, atol=1e-4)) > 0.3


def test_pixel_scale_255(trained):
    model, images, labels = trained
    mean255, std255 = MEAN * 255, STD * 255
    adversarial = analysis.fgsm(model, images[:10], labels[:10], 8.0,
                                mean=mean255, std=std255, pixel_scale=255)
    moved = np.abs(_pixels(adversarial, mean255, std255)
                   - _pixels(images[:10], mean255, std255))
    assert moved.max() == pytest.approx(8.0, abs=1e-3)
    same_in_unit = analysis.fgsm(model, images[:10], labels[:10], 8 / 255,
                                 mean=MEAN, std=STD)
    np.testing.assert_allclose(adversarial, same_in_unit, atol=1e-4)


def test_pgd_is_at_least_as_strong_as_fgsm(trained):
    model, images, labels = trained
    clean = analysis.accuracy_under_attack(model, images, labels, 0.0)
    acc_fgsm = analysis.accuracy_under_attack(model, images, labels, 0.08,
                                              mean=MEAN, std=STD)
    acc_pgd = analysis.accuracy_under_attack(
        model, images, labels, 0.08, attack="pgd", mean=MEAN, std=STD,
        steps=10, seed=0)
    assert clean > 0.9
    assert acc_fgsm < clean
    assert acc_pgd <= acc_fgsm + 0.02


def test_pgd_is_deterministic_given_a_seed(trained):
    model, images, labels = trained
    args = (model, images[:20], labels[:20], 0.05)
    first = analysis.pgd(*args, steps=3, mean=MEAN, std=STD, seed=7)
    again = analysis.pgd(*args, steps=3, mean=MEAN, std=STD, seed=7)
    other = analysis.pgd(*args, steps=3, mean=MEAN, std=STD, seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_robustness_curve(trained):
    model, images, labels = trained
    labels_one_hot = np.eye(3)[labels]
    curve = analysis.robustness_curve(model, images, labels_one_hot,
                                      [0.0, 0.04, 0.12], mean=MEAN, std=STD,
                                      batch_size=64)
    assert list(curve) == [0.0, 0.04, 0.12]
    assert curve[0.0] == pytest.approx(np.mean(
        model.predict(images, verbose=0).argmax(1) == labels))
    assert curve[0.12] < curve[0.0]
    pgd_curve = analysis.robustness_curve(model, images, labels, [0.0, 0.12],
                                          attack="pgd", mean=MEAN, std=STD,
                                          steps=5)
    assert pgd_curve[0.0] == curve[0.0]
    assert pgd_curve[0.12] <= curve[0.12] + 0.02


def test_inconsistent_normalisation_is_an_error(trained):
    model, images, labels = trained
    with pytest.raises(ValueError, match="pixel range"):
        analysis.fgsm(model, images, labels, 8.0, mean=MEAN * 255,
                      std=STD * 255)  # pixel_scale left at 1
    with pytest.raises(ValueError, match="Unknown attack"):
        analysis.accuracy_under_attack(model, images, labels, 0.1,
                                       attack="cw")
    with pytest.raises(ValueError, match="PGD"):
        analysis.accuracy_under_attack(model, images, labels, 0.1, steps=3)
