"""The Distiller with feature terms: the combined loss against a hand
computation, connectors trained, saved and resumed and never in the
student, every mixer and mode, mixed precision, MirroredStrategy, folding,
and the refusals."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mixkd
from keras_mixkd.feature_terms import FeatureTerm
from keras_mixkd.feature_terms import zoo_terms
from tests.helpers import CLASSES
from tests.helpers import assert_mirrored_matches_single_device
from tests.helpers import tiny_data
from tests.losses import feature_references as ref


def conv_model(name, widths=(4, 8), seed=0, batch_norm=False):
    """Two conv stages on 8x8x3 images: ``stage1`` 8x8, ``stage2`` 4x4."""
    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(widths[0], 3, padding="same", name="conv1",
                            kernel_initializer=init)(inputs)
    if batch_norm:
        x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="stage1")(x)
    x = keras.layers.Conv2D(widths[1], 3, strides=2, padding="same",
                            name="conv2",
                            kernel_initializer=keras.initializers.GlorotUniform(
                                seed=seed + 1))(x)
    x = keras.layers.ReLU(name="stage2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(CLASSES, name="fc",
                                 kernel_initializer=init)(x)
    return keras.Model(inputs, outputs, name=name)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _np_kd(teacher, student, t=4.0):
    p, q = _softmax(teacher / t), _softmax(student / t)
    return np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)) * t * t


def _np_ce(labels, logits):
    return -np.mean(np.log(_softmax(logits))[np.arange(len(labels)), labels])


def _distiller(terms, student=None, teacher=None, **kwargs):
    options = {"mixer": None, "distillation_loss": "kd", "ce_weight": 0.1,
               "kd_weight": 0.9, **kwargs}
    return keras_mixkd.Distiller(
        student=student or conv_model("student", seed=1),
        teacher=teacher or conv_model("teacher", (6, 12), seed=5),
        feature_terms=terms, **options)


def _first_step(terms, **kwargs):
    """The logs of one training step (the loss before any update)."""
    x, y = tiny_data(8)
    d = _distiller(terms, **kwargs)
    d.compile(optimizer=keras.optimizers.SGD(0.1))
    return d.train_on_batch(x, y, return_dict=True)


def _outputs(model, layers, x, training=False):
    features, logits = keras_mixkd.models.with_features(model, layers)(
        x, training=training)
    return [np.asarray(f, "float64") for f in features], np.asarray(
        logits, "float64")


def test_combined_loss_equals_hand_computation_one_term():
    x, y = tiny_data(8)
    d = _distiller([FeatureTerm("stage1", "stage1", "at", weight=50.0)])
    d.compile(optimizer=keras.optimizers.SGD(0.1))
    (t_feat,), t_logits = _outputs(d.teacher, ["stage1"], x)
    (s_feat,), s_logits = _outputs(d.student, ["stage1"], x)
    at = ref.attention(ref.nchw(s_feat), ref.nchw(t_feat))
    ce, kd = _np_ce(y, s_logits), _np_kd(t_logits, s_logits)
    logs = d.train_on_batch(x, y, return_dict=True)
    np.testing.assert_allclose(logs["feature_loss"], 50.0 * at, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], 0.1 * ce + 0.9 * kd + 50.0 * at,
                               rtol=1e-5)


def test_hint_term_goes_through_its_connector():
    x, y = tiny_data(8)
    d = _distiller([FeatureTerm("stage2", "stage1", "hint"),
                    FeatureTerm("stage2", "stage2", "sp", weight=7.0)],
                   ce_weight=1.0, kd_weight=0.0)
    d.compile(optimizer=keras.optimizers.SGD(0.1))
    assert len(d.connectors) == 1 and d.feature_terms[0].weight == 100.0
    connector = d.connectors[0]
    t_feats, _ = _outputs(d.teacher, ["stage2", "stage2"], x)
    s_feats, s_logits = _outputs(d.student, ["stage1", "stage2"], x,
                                 training=True)
    regressed = np.asarray(connector(s_feats[0].astype("float32"),
                                     training=True), "float64")
    assert regressed.shape == t_feats[0].shape  # 8x8x4 -> 4x4x12
    expected = (_np_ce(y, s_logits)
                + 100.0 * ref.hint(ref.nchw(regressed), ref.nchw(t_feats[0]))
                + 7.0 * ref.similarity(ref.nchw(s_feats[1]),
                                       ref.nchw(t_feats[1])))
    before = [np.array(w) for w in connector.get_weights()]
    teacher_before = [np.array(w) for w in d.teacher.get_weights()]
    logs = d.train_on_batch(x, y, return_dict=True)
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-4)
    assert any(not np.allclose(a, b)
               for a, b in zip(before, connector.get_weights()))
    for a, b in zip(teacher_before, d.teacher.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_two_identical_terms_double_one():
    term = FeatureTerm("stage2", "stage2", "pkt", weight=3.0)
    logs = [_first_step(terms, ce_weight=0.0, kd_weight=0.0)["loss"]
            for terms in ([term], [term, term])]
    np.testing.assert_allclose(logs[1], 2 * logs[0], rtol=1e-5)


def test_saved_distiller_resumes_with_its_connectors(tmp_path):
    x, y = tiny_data(16)
    d = _distiller([FeatureTerm("stage2", "stage1", "hint")])
    d.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    d.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    d.save(tmp_path / "distiller.keras")
    restored = keras.saving.load_model(tmp_path / "distiller.keras")
    assert restored.feature_terms == d.feature_terms
    for a, b in zip(d.connectors[0].weights, restored.connectors[0].weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    continued = [m.fit(x, y, batch_size=8, epochs=1, shuffle=False,
                       verbose=0).history["loss"][0] for m in (d, restored)]
    np.testing.assert_allclose(continued[0], continued[1], rtol=1e-5)


def test_student_file_has_no_connector_and_loads_with_plain_keras(tmp_path):
    x, y = tiny_data(8)
    d = _distiller([FeatureTerm("stage2", "stage1", "hint")])
    d.compile(optimizer="sgd")
    d.fit(x, y, batch_size=8, epochs=1, verbose=0)
    d.student.save(tmp_path / "student.keras")
    student = keras.saving.load_model(tmp_path / "student.keras",
                                      compile=False)
    assert [layer.name for layer in student.layers] == [
        layer.name for layer in d.student.layers]
    assert not any("connector" in w.path for w in student.weights)
    np.testing.assert_allclose(np.asarray(student(x)),
                               np.asarray(d.student(x)), rtol=1e-6)


@pytest.mark.parametrize("mixer,mode", [
    ("pmu", "replace"), ("fmu", "replace"), ("cutmix", "replace"),
    ("mixup", "replace"), ("fmu", "append"), ("cutmix", "append")])
def test_every_mixer_and_mode(mixer, mode):
    x, y = tiny_data(16)
    d = _distiller([FeatureTerm("stage1", "stage1", "at"),
                    FeatureTerm("stage2", "stage1", "hint")],
                   mixer=mixer, mix_mode=mode, seed=3)
    d.compile(optimizer="sgd", metrics=["accuracy"])
    history = d.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["feature_loss"][0])
    assert history["feature_loss"][0] > 0
    # The logged loss is the sum of its weighted terms under every mixer.
    np.testing.assert_allclose(
        history["loss"][0], history["ce_loss"][0] + history["kd_loss"][0]
        + history["feature_loss"][0], rtol=1e-5)


def test_append_mode_averages_the_feature_term_over_both_copies():
    """With the identity as the mixer, the 2B rows are two copies of the
    batch: the mean over them is the loss of the B clean rows."""
    class Identity(keras.layers.Layer):
        def call(self, data, training=None):
            return data

    term = FeatureTerm("stage2", "stage2", "at", weight=10.0)
    values = [_first_step([term], ce_weight=0.0, kd_weight=0.0, **options)
              for options in ({}, {"mixer": Identity(), "mix_mode": "append"})]
    np.testing.assert_allclose(values[1]["feature_loss"],
                               values[0]["feature_loss"], rtol=1e-5)


def test_mixed_precision_keeps_the_feature_loss_in_float32():
    """Under mixed_bfloat16 the feature terms of the same models give the
    float32 loss up to the features' bfloat16 rounding."""
    terms = [FeatureTerm("stage1", "stage1", "at"),
             FeatureTerm("stage2", "stage1", "hint")]
    keras.utils.set_random_seed(0)  # the same connector both times
    exact = _first_step(terms)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        logs = _first_step(terms)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert logs["feature_loss"] > 0
    np.testing.assert_allclose(logs["feature_loss"], exact["feature_loss"],
                               rtol=1e-2)


def test_mirrored_strategy_matches_single_device():
    """Attention transfer is per sample: two replicas' halves of the batch
    give the one-device step exactly (the batch-level SP and PKT compare
    each replica's own rows instead, docs/features.md)."""
    x, y = tiny_data(8)
    init = conv_model("student", seed=1).get_weights()

    def build():
        student = conv_model("student", seed=1)
        student.set_weights(init)
        d = _distiller([FeatureTerm("stage1", "stage1", "at"),
                        FeatureTerm("stage2", "stage2", "at")],
                       student=student)
        d.compile(optimizer=keras.optimizers.SGD(0.5))
        return d

    assert_mirrored_matches_single_device(build, x, y, init)


def test_a_feature_at_a_folded_convolution_keeps_its_own_output():
    """fold_teacher folds conv1 into bn1; a term reading conv1 keeps it."""
    teacher = conv_model("teacher", (6, 12), seed=5, batch_norm=True)
    teacher.get_layer("bn1").set_weights([
        np.full(6, 2.0), np.full(6, 0.5), np.full(6, 0.1), np.full(6, 3.0)])
    term = FeatureTerm("conv1", "stage1", "at", weight=10.0)
    losses = [_first_step([term], teacher=teacher, fold_teacher=fold,
                          ce_weight=0.0, kd_weight=0.0)["feature_loss"]
              for fold in (False, True)]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)


def test_zoo_terms_are_repdistillers_layers():
    student = keras_mixkd.models.create("resnet8", 10)
    teacher = keras_mixkd.models.create("resnet20", 10)
    at = zoo_terms("at", student, teacher)
    assert [(t.teacher_layer, t.student_layer) for t in at] == [
        ("layer1.2.relu", "layer1.0.relu"), ("layer2.2.relu", "layer2.0.relu"),
        ("layer3.2.relu", "layer3.0.relu")]
    assert {t.weight for t in at} == {1000.0}
    (hint,) = zoo_terms("hint", student, teacher)
    assert (hint.teacher_layer, hint.connector, hint.weight) == (
        "layer2.2.relu", True, 100.0)
    (sp,) = zoo_terms("sp", student, teacher, weight=5.0)
    assert (sp.teacher_layer, sp.weight) == ("layer3.2.relu", 5.0)
    (pkt,) = zoo_terms("pkt", student, teacher)
    assert pkt.teacher_layer == "penultimate"


@pytest.mark.parametrize("terms,match", [
    ([FeatureTerm("nope", "stage1", "at")], "teacher 'teacher' has no layer "
                                            "named 'nope'"),
    ([FeatureTerm("stage1", "nope", "at")], "student 'student' has no layer"),
    ([FeatureTerm("stage2", "stage1", "hint", connector=False)],
     "ConvRegressor"),
    ([FeatureTerm("pool", "pool", "at")], "rank 4"),
])
def test_bad_terms_are_refused_at_construction(terms, match):
    with pytest.raises(ValueError, match=match):
        _distiller(terms)


@pytest.mark.parametrize("options,match", [
    ({"loss": "fitnet"}, "Unknown feature loss"),
    ({"loss": keras.losses.MeanSquaredError()}, "needs a `weight`"),
    ({"weight": -1.0}, "must be >= 0"),
    ({"teacher_layer": ""}, "must be a layer name"),
])
def test_bad_feature_term(options, match):
    arguments = {"teacher_layer": "stage1", "student_layer": "stage1",
                 **options}
    with pytest.raises((ValueError, TypeError), match=match):
        FeatureTerm(**arguments)


def test_settings_weights_name_every_feature_loss():
    from keras_mixkd import settings
    from keras_mixkd.feature_terms import FEATURE_LOSSES

    assert list(settings.FEATURE_LOSS_WEIGHTS) == list(FEATURE_LOSSES)
