"""The feature losses against float64 transcriptions of RepDistiller's code:
values and gradients on features of the zoo's shapes, unequal spatial sizes
included, plus their Keras-loss behaviour and their refusals."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd import losses
from tests.losses import feature_references as ref

# (loss class, function, reference, teacher shape, student shape), NHWC
# without the batch: stages of the zoo's pairs (resnet32x4 -> resnet8x4,
# wrn_40_2 -> ShuffleV1, vgg13 -> MobileNetV2, ResNet50 -> vgg8), a map that
# the other's size does not divide, and pooled vectors.
CASES = [
    ("hint", (16, 16, 128), (16, 16, 128)),
    ("hint", (8, 8, 64), (8, 8, 64)),
    ("attention", (32, 32, 64), (32, 32, 64)),
    ("attention", (32, 32, 32), (16, 16, 240)),
    ("attention", (8, 8, 256), (16, 16, 12)),
    ("attention", (7, 7, 5), (5, 5, 3)),
    ("similarity", (8, 8, 256), (4, 4, 960)),
    ("similarity", (4, 4, 2048), (4, 4, 512)),
    ("pkt", (256,), (64,)),
    ("pkt", (2048,), (512,)),
]

LOSSES = {
    "hint": (losses.HintLoss, losses.hint_loss, ref.hint),
    "attention": (losses.AttentionTransfer, losses.attention_transfer_loss,
                  ref.attention),
    "similarity": (losses.SimilarityPreserving,
                   losses.similarity_preserving_loss, ref.similarity),
    "pkt": (losses.ProbabilisticKnowledgeTransfer, losses.pkt_loss, ref.pkt),
}


def _features(kind, teacher_shape, student_shape, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    # Post-ReLU maps for attention (as the zoo's stages), signed otherwise.
    teacher = rng.normal(size=(batch,) + teacher_shape)
    student = rng.normal(size=(batch,) + student_shape)
    if kind == "attention":
        teacher, student = np.maximum(teacher, 0), np.maximum(student, 0)
    if kind == "hint":
        student = teacher + 0.3 * student
    return teacher, student


def _reference(kind, teacher, student):
    return LOSSES[kind][2](ref.nchw(student), ref.nchw(teacher))


def _value_and_grad(fn, teacher, student):
    s = tf.Variable(student)
    with tf.GradientTape() as tape:
        value = fn(tf.constant(teacher), s)
    return float(value), tape.gradient(value, s).numpy()


def _relative_error(actual, expected):
    return np.max(np.abs(actual - expected)) / np.max(np.abs(expected))


@pytest.mark.parametrize("kind,teacher_shape,student_shape", CASES)
def test_value_and_gradient_match_reference(kind, teacher_shape,
                                            student_shape):
    teacher, student = _features(kind, teacher_shape, student_shape)
    value, grad = _value_and_grad(LOSSES[kind][1], teacher, student)
    expected = _reference(kind, teacher, student)
    assert expected > 0
    np.testing.assert_allclose(value, expected, rtol=1e-10)
    # Directional derivatives of the reference by central differences.
    rng = np.random.default_rng(1)
    h = 1e-5 * np.max(np.abs(student))
    for _ in range(3):
        direction = rng.normal(size=student.shape)
        numeric = (_reference(kind, teacher, student + h * direction)
                   - _reference(kind, teacher, student - h * direction)) / (2 * h)
        np.testing.assert_allclose(np.sum(grad * direction), numeric,
                                   rtol=1e-5, atol=1e-12 * abs(expected))


@pytest.mark.parametrize("kind,teacher_shape,student_shape", [
    ("hint", (3, 3, 2), (3, 3, 2)),
    ("attention", (4, 4, 2), (2, 2, 3)),
    ("attention", (3, 3, 2), (5, 5, 1)),
    ("similarity", (2, 2, 3), (3, 1, 2)),
    ("pkt", (5,), (3,)),
])
def test_every_gradient_entry_matches_reference(kind, teacher_shape,
                                                student_shape):
    teacher, student = _features(kind, teacher_shape, student_shape, batch=3)
    _, grad = _value_and_grad(LOSSES[kind][1], teacher, student)
    h = 1e-6
    numeric = np.zeros_like(student)
    for index in np.ndindex(student.shape):
        up, down = student.copy(), student.copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (_reference(kind, teacher, up)
                          - _reference(kind, teacher, down)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5,
                               atol=1e-8 * np.max(np.abs(numeric)))


@pytest.mark.parametrize("kind,teacher_shape,student_shape",
                         [c for c in CASES if c[0] != "hint"][::2]
                         + [CASES[0]])
def test_keras_loss_float32_matches_reference(kind, teacher_shape,
                                              student_shape):
    teacher, student = _features(kind, teacher_shape, student_shape, seed=2)
    loss = LOSSES[kind][0]()
    value = float(loss(teacher.astype("float32"), student.astype("float32")))
    np.testing.assert_allclose(value, _reference(kind, teacher, student),
                               rtol=1e-4)


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_per_sample_values_average_to_the_loss(kind):
    teacher_shape, student_shape = next(
        (t, s) for k, t, s in CASES if k == kind)
    teacher, student = _features(kind, teacher_shape, student_shape, batch=5)
    loss = LOSSES[kind][0](reduction=None, dtype="float64")
    per_sample = np.asarray(loss(teacher, student))
    assert per_sample.shape == (5,)
    np.testing.assert_allclose(per_sample.mean(),
                               _reference(kind, teacher, student), rtol=1e-10)
    weights = np.array([1.0, 0.0, 2.0, 1.0, 0.5])
    weighted = LOSSES[kind][0](dtype="float64")(teacher, student,
                                                sample_weight=weights)
    np.testing.assert_allclose(float(weighted),
                               np.sum(per_sample * weights) / 5, rtol=1e-10)


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_identical_features_give_zero(kind):
    teacher_shape = next(t for k, t, _ in CASES if k == kind)
    teacher, _ = _features(kind, teacher_shape, teacher_shape)
    value = LOSSES[kind][1](teacher, teacher)
    assert abs(float(value)) < 1e-12


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_all_zero_student_keeps_finite_gradient(kind):
    teacher_shape = next(t for k, t, _ in CASES if k == kind)
    teacher, _ = _features(kind, teacher_shape, teacher_shape, batch=3)
    value, grad = _value_and_grad(LOSSES[kind][1], teacher,
                                  np.zeros_like(teacher))
    assert np.isfinite(value) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("cls,options", [
    (losses.HintLoss, {}), (losses.AttentionTransfer, {"p": 4}),
    (losses.SimilarityPreserving, {}),
    (losses.ProbabilisticKnowledgeTransfer, {})])
def test_serialization_round_trip(cls, options):
    loss = cls(**options)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is cls
    assert restored.get_config() == loss.get_config()
    teacher, student = _features("attention", (4, 4, 3), (4, 4, 3))
    np.testing.assert_allclose(float(restored(teacher, student)),
                               float(loss(teacher, student)), rtol=1e-7)


def test_attention_p_changes_the_map():
    teacher, student = _features("attention", (4, 4, 3), (4, 4, 2))
    value = float(losses.attention_transfer_loss(teacher, student, p=4))
    np.testing.assert_allclose(
        value, ref.attention(ref.nchw(student), ref.nchw(teacher), p=4),
        rtol=1e-10)


def test_hint_refuses_shapes_that_differ_and_names_the_connector():
    with pytest.raises(ValueError, match="ConvRegressor"):
        losses.HintLoss()(np.zeros((2, 8, 8, 64)), np.zeros((2, 8, 8, 32)))


@pytest.mark.parametrize("shape", [(2, 64), (2, 8, 8)])
def test_attention_refuses_non_maps(shape):
    with pytest.raises(ValueError, match="rank 4"):
        losses.AttentionTransfer()(np.zeros(shape), np.zeros(shape))


def test_attention_refuses_bad_p():
    with pytest.raises(ValueError, match="`p` must be > 0"):
        losses.AttentionTransfer(p=0)


def test_features_need_a_batch_dimension():
    with pytest.raises(ValueError, match="rank >= 2"):
        losses.pkt_loss(np.zeros(4), np.zeros(4))


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_bfloat16_features_give_a_float32_loss(kind):
    """Under mixed precision the features are bfloat16; the loss is not."""
    teacher_shape, student_shape = next(
        (t, s) for k, t, s in CASES if k == kind)
    teacher, student = _features(kind, teacher_shape, student_shape, seed=3)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        value = LOSSES[kind][0]()(tf.cast(teacher, "bfloat16"),
                                  tf.cast(student, "bfloat16"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert value.dtype == tf.float32
    rounded = [np.asarray(tf.cast(tf.cast(x, "bfloat16"), "float64"))
               for x in (teacher, student)]
    np.testing.assert_allclose(float(value), _reference(kind, *rounded),
                               rtol=1e-4)
