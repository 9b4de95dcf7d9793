"""Parity of the losses with the official MIX-KD / RepDistiller code."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd import losses

CASES = range(4)


@pytest.fixture(scope="module")
def ref(reference_dir):
    return dict(np.load(reference_dir / "losses.npz"))


def _value_and_grad(fn, student, dtype):
    s = tf.constant(student, dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(s)
        value = fn(s)
    return value.numpy(), tape.gradient(value, s).numpy()


def _mixstd(ref, i, dtype):
    t = tf.constant(ref[f"case{i}_teacher_logits"], dtype)
    y = tf.constant(ref[f"case{i}_targets"], dtype)
    ce = lambda s: 0.1 * losses.std_cross_entropy(y, s)  # noqa: E731
    kd = lambda s: 0.9 * losses.std_kd_divergence(t, s)  # noqa: E731
    s = ref[f"case{i}_student_logits"]
    _, grad = _value_and_grad(lambda s: ce(s) + kd(s), s, dtype)
    return (ce(tf.constant(s, dtype)).numpy(), kd(tf.constant(s, dtype)).numpy(),
            grad)


def _close(actual, expected, rtol):
    # Relative to the largest magnitude of the reference (gradients have
    # entries near zero where an element-wise relative test is meaningless).
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-9), ("float32", 1e-5)])
@pytest.mark.parametrize("i", CASES)
def test_mixstd_matches_official(ref, i, dtype, rtol):
    ce, kd, grad = _mixstd(ref, i, dtype)
    _close(ce, ref[f"case{i}_mixstd_ce"], rtol)
    _close(kd, ref[f"case{i}_mixstd_kd"], rtol)
    _close(grad, ref[f"case{i}_mixstd_grad"], rtol)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-9), ("float32", 1e-5)])
@pytest.mark.parametrize("i", CASES)
def test_kd_matches_distill_kl(ref, i, dtype, rtol):
    t = tf.constant(ref[f"case{i}_teacher_logits"], dtype)
    value, grad = _value_and_grad(
        lambda s: losses.kd_divergence(t, s, temperature=4.0),
        ref[f"case{i}_student_logits"], dtype)
    _close(value, ref[f"case{i}_kd_T4"], rtol)
    _close(grad, ref[f"case{i}_kd_T4_grad"], rtol)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-9), ("float32", 1e-5)])
@pytest.mark.parametrize("i", CASES)
def test_classic_kd_objective_with_hard_labels(ref, i, dtype, rtol):
    t = tf.constant(ref[f"case{i}_teacher_logits"], dtype)
    hard = ref[f"case{i}_hard_labels"]
    onehot = tf.one_hot(hard, t.shape[-1], dtype=dtype)
    ce = keras.losses.CategoricalCrossentropy(from_logits=True, dtype=dtype)

    def objective(s):
        return 0.1 * ce(onehot, s) + 0.9 * losses.kd_divergence(t, s, 4.0)

    value, grad = _value_and_grad(objective, ref[f"case{i}_student_logits"],
                                  dtype)
    _close(value, ref[f"case{i}_kd_total_hard"], rtol)
    _close(grad, ref[f"case{i}_kd_total_hard_grad"], rtol)


def test_std_kd_is_logit_standardization_at_tau_one(ref):
    t, s = ref["case0_teacher_logits"], ref["case0_student_logits"]
    np.testing.assert_allclose(
        losses.std_kd_divergence(t, s),
        losses.logit_standardization_divergence(t, s, temperature=1.0),
        rtol=1e-12)


def test_logit_standardization_by_hand():
    rng = np.random.default_rng(0)
    t, s = rng.normal(size=(3, 7)) * 5, rng.normal(size=(3, 7))
    tau = 2.0

    def z(x):
        return (x - x.mean(1, keepdims=True)) / x.std(1, ddof=1, keepdims=True)

    def log_softmax(x):
        x = x - x.max(1, keepdims=True)
        return x - np.log(np.exp(x).sum(1, keepdims=True))

    lt, ls = log_softmax(z(t) / tau), log_softmax(z(s) / tau)
    expected = np.mean(np.sum(np.exp(lt) * (lt - ls), 1)) * tau**2
    np.testing.assert_allclose(
        losses.logit_standardization_divergence(t, s, temperature=tau),
        expected, rtol=1e-12)
    # ddof=0 uses the population std: a different scale, a different value.
    assert abs(float(losses.logit_standardization_divergence(
        t, s, tau, ddof=0)) - expected) > 1e-6


def test_ddof_factor_between_unbiased_and_population_std():
    logits = np.random.default_rng(1).normal(size=(4, 100))
    ratio = (losses.standardize_logits(logits, ddof=0)
             / losses.standardize_logits(logits, ddof=1))
    np.testing.assert_allclose(ratio, np.sqrt(100 / 99), rtol=1e-9)


@pytest.mark.parametrize("fn", [losses.std_kd_divergence,
                                losses.logit_standardization_divergence,
                                losses.kd_divergence])
def test_constant_logit_row_is_finite(fn):
    t = tf.constant([[1.0, 1.0, 1.0], [0.0, 2.0, 5.0]])
    s = tf.constant([[3.0, 3.0, 3.0], [1.0, 0.5, 2.0]])
    with tf.GradientTape() as tape:
        tape.watch(s)
        value = fn(t, s)
    assert np.isfinite(value.numpy())
    assert np.all(np.isfinite(tape.gradient(value, s).numpy()))
    ce = losses.std_cross_entropy(tf.one_hot([0, 2], 3), s)
    # A constant row is a uniform distribution: CE = log(3) for that row.
    assert np.isfinite(ce.numpy())


def test_identical_distributions_give_zero():
    t = np.random.default_rng(2).normal(size=(5, 10))
    assert abs(float(losses.kd_divergence(t, t))) < 1e-6
    # Scaled copies have the same standardized distribution.
    assert abs(float(losses.std_kd_divergence(3.0 * t + 1.0, t))) < 1e-6


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_non_positive_temperature_is_rejected(bad):
    with pytest.raises(ValueError, match="temperature"):
        losses.kd_divergence([[0.0, 1.0]], [[1.0, 0.0]], temperature=bad)
    with pytest.raises(ValueError, match="temperature"):
        losses.KDDivergence(temperature=bad)
    with pytest.raises(ValueError, match="temperature"):
        losses.LogitStandardizationDivergence(temperature=bad)


def test_bad_ddof_is_rejected():
    with pytest.raises(ValueError, match="ddof"):
        losses.StdKDDivergence(ddof=2)


@pytest.mark.parametrize("cls,kwargs,first", [
    (losses.KDDivergence, {"temperature": 3.0}, "teacher"),
    (losses.StdKDDivergence, {"ddof": 0}, "teacher"),
    (losses.StdCrossEntropy, {"ddof": 1}, "targets"),
    (losses.LogitStandardizationDivergence, {"temperature": 2.0}, "teacher"),
])
def test_loss_classes_match_functions_and_round_trip(cls, kwargs, first):
    rng = np.random.default_rng(3)
    s = rng.normal(size=(6, 10)).astype("float32")
    a = (rng.normal(size=(6, 10)) * 3 if first == "teacher"
         else np.eye(10)[rng.integers(0, 10, 6)]).astype("float32")
    loss = cls(**kwargs)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss))
    assert type(restored) is cls and restored.get_config() == loss.get_config()
    per_sample = loss.call(a, s)
    assert tuple(per_sample.shape) == (6,)
    np.testing.assert_allclose(loss(a, s), np.mean(per_sample), rtol=1e-6)
    np.testing.assert_allclose(restored(a, s), loss(a, s), rtol=1e-6)
    # Sample weights are honoured by the Keras reduction.
    w = np.array([1, 0, 1, 0, 1, 0], "float32")
    np.testing.assert_allclose(loss(a, s, sample_weight=w),
                               np.sum(per_sample * w) / 6, rtol=1e-5)


def test_get_resolves_names_and_rejects_nonsense():
    # One loss, as keras.losses.get returns; the student's is student_loss.
    kd = losses.get("kd", temperature=1.0)
    assert isinstance(kd, losses.KDDivergence) and kd.temperature == 1.0
    ce = losses.student_loss("kd", 1.0)
    assert isinstance(ce, keras.losses.CategoricalCrossentropy)
    kd, ce = losses.get("mixstd"), losses.student_loss("mixstd")
    assert isinstance(kd, losses.StdKDDivergence)
    assert isinstance(ce, losses.StdCrossEntropy)
    assert kd.temperature == 1.0 and ce.temperature == 1.0
    kd = losses.get("mixstd", temperature=0.5)
    ce = losses.student_loss("mixstd", temperature=0.5)
    assert kd.temperature == 0.5 and ce.temperature == 0.5
    custom = losses.KDDivergence(temperature=2.0)
    assert losses.get(custom) is custom
    with pytest.raises(ValueError, match="must be > 0"):
        losses.get("mixstd", temperature=0.0)
    with pytest.raises(ValueError, match="Unknown distillation loss"):
        losses.get("nope")
