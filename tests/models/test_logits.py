"""Teachers and students that output probabilities are refused, clearly.

`keras_mixkd.models.logits`: the Distiller's check of both models (by the
last layer's activation, or by a probe on random inputs), its opt-out, and
`without_softmax`, which returns the same model's logits sharing weights.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mixkd
from keras_mixkd.models import logits
from tests.helpers import IMAGE_SHAPE
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def _head(head):
    """A tiny classifier ending in ``head`` ("dense_softmax", ...)."""
    inputs = keras.Input(IMAGE_SHAPE)
    x = keras.layers.Dense(16, activation="relu")(
        keras.layers.Flatten()(inputs))
    if head == "dense_softmax":
        outputs = keras.layers.Dense(5, activation="softmax")(x)
    elif head == "dense_sigmoid":
        outputs = keras.layers.Dense(5, activation="sigmoid")(x)
    elif head == "softmax_layer":
        outputs = keras.layers.Softmax()(keras.layers.Dense(5)(x))
    elif head == "activation_layer":
        outputs = keras.layers.Activation("softmax")(keras.layers.Dense(5)(x))
    elif head == "ops_softmax":
        outputs = keras.ops.softmax(keras.layers.Dense(5)(x))
    return keras.Model(inputs, outputs, name=head)


class SoftmaxInCall(keras.Model):
    """A subclassed classifier whose call ends in a softmax."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(5)

    def call(self, x):
        return keras.ops.softmax(self.dense(self.flatten(x)))


HEADS = ["dense_softmax", "dense_sigmoid", "softmax_layer",
         "activation_layer", "ops_softmax"]


@pytest.mark.parametrize("role", ["teacher", "student"])
@pytest.mark.parametrize("head", HEADS)
def test_a_final_softmax_is_refused_at_construction(head, role):
    models = {"teacher": tiny_model("t", seed=7), "student": tiny_model("s")}
    models[role] = _head(head)
    with pytest.raises(ValueError) as error:
        keras_mixkd.Distiller(**models)
    message = str(error.value)
    assert f"The {role}'s last layer" in message
    assert "activation=None" in message
    assert f"keras_mixkd.models.without_softmax({role})" in message
    assert "check_logits=False" in message
    assert models["teacher"].trainable  # refused before anything changed


@pytest.mark.parametrize("role", ["teacher", "student"])
def test_probabilities_from_a_call_are_refused_at_the_first_fit(role):
    x, y = tiny_data(16)
    model = SoftmaxInCall(name=role)
    model(x[:2])  # built, but its layers do not tell its activation
    models = {"teacher": tiny_model("t", seed=7), "student": tiny_model("s")}
    models[role] = model
    distiller = keras_mixkd.Distiller(**models)
    distiller.compile(optimizer="sgd")
    before = [w.copy() for w in distiller.student.get_weights()]
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match=f"The {role}'s outputs look like "
                       "probabilities.*check_logits=False"):
        distiller.fit(data, epochs=1, verbose=0)
    for a, b in zip(before, distiller.student.get_weights()):
        np.testing.assert_array_equal(a, b)  # no step was taken


def test_a_built_functional_model_is_probed_at_construction():
    inputs = keras.Input(IMAGE_SHAPE)
    # A Flatten does not tell: the probe decides.
    outputs = keras.layers.Flatten()(_head("dense_softmax")(inputs))
    with pytest.raises(ValueError, match="The teacher's outputs look like"):
        keras_mixkd.Distiller(student=tiny_model("s"),
                              teacher=keras.Model(inputs, outputs))
    inputs = keras.Input(IMAGE_SHAPE)
    hidden = keras.layers.Flatten()(inputs)
    probs = keras.layers.Lambda(keras.ops.softmax)(keras.layers.Dense(5)(hidden))
    with pytest.raises(ValueError, match="The student's outputs look like"):
        keras_mixkd.Distiller(student=keras.Model(inputs, probs),
                              teacher=tiny_model("t"))


def test_the_opt_out_trains_and_is_saved(tmp_path):
    x, y = tiny_data(16)
    teacher = _head("dense_softmax")
    distiller = keras_mixkd.Distiller(student=tiny_model("s"),
                                      teacher=teacher, check_logits=False)
    distiller.compile(optimizer="sgd")
    history = distiller.fit(x, y, batch_size=8, verbose=0).history
    assert np.isfinite(history["loss"][0])
    assert distiller.get_config()["check_logits"] is False
    path = tmp_path / "d.keras"
    distiller.save(path)
    assert keras.saving.load_model(path).check_logits is False


def test_the_logits_of_a_softmax_model_are_accepted():
    x, _ = tiny_data(32)
    probabilities = _head("dense_softmax")
    teacher = keras_mixkd.models.without_softmax(probabilities)
    # Probabilities read as logits at T=4 are a near-uniform target: what
    # the check prevents. Their logits are not.
    soft = keras.ops.softmax(probabilities(x) / 4.0)
    assert float(keras.ops.max(soft)) < 1.3 / 5
    assert logits.check_logits(teacher, "teacher")
    keras_mixkd.Distiller(student=tiny_model("s"), teacher=teacher)


APPLICATION_ARGS = dict(weights=None, input_shape=(32, 32, 3), classes=10)


@pytest.mark.slow
@pytest.mark.parametrize("build", [keras.applications.MobileNetV3Small,
                                   keras.applications.ResNet50])
def test_a_keras_applications_model_with_its_default_head(build):
    """MobileNetV3 ends in an Activation layer, ResNet50 in a softmax Dense."""
    model = build(**APPLICATION_ARGS)
    student = keras.Sequential([keras.Input((32, 32, 3)),
                                keras.layers.Flatten(),
                                keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="The teacher's last layer "
                       "'predictions'.*classifier_activation=None"):
        keras_mixkd.Distiller(student=student, teacher=model)
    teacher = keras_mixkd.models.without_softmax(model)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.softmax(teacher(x)), model(x),
                               rtol=1e-5, atol=1e-6)
    # The same variables, not copies.
    assert {id(v) for v in teacher.weights} == {id(v) for v in model.weights}
    keras_mixkd.Distiller(student=student, teacher=teacher)


def test_without_softmax_shares_weights_and_saves(tmp_path):
    x, y = tiny_data(16)
    model = _head("dense_softmax")
    wrapped = keras.Sequential([keras.Input(IMAGE_SHAPE),
                                keras.layers.Rescaling(2.0), model])
    for original in (model, wrapped):
        logits_model = keras_mixkd.models.without_softmax(original)
        assert logits_model.name == original.name
        np.testing.assert_allclose(keras.ops.softmax(logits_model(x)),
                                   original(x), rtol=1e-5, atol=1e-7)
        assert logits.final_activation(logits_model)[1] == "linear"
    # Training the logits model trains the original: shared weights.
    before = model(x)
    logits_model = keras_mixkd.models.without_softmax(model)
    logits_model.compile(optimizer=keras.optimizers.SGD(0.5), loss=(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)))
    logits_model.fit(x, y, batch_size=8, verbose=0)
    assert not np.allclose(model(x), before)
    np.testing.assert_allclose(keras.ops.softmax(logits_model(x)), model(x),
                               rtol=1e-5, atol=1e-7)
    path = tmp_path / "logits.keras"
    logits_model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(x),
                               logits_model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("head", ["softmax_layer", "activation_layer",
                                  "ops_softmax", "dense_sigmoid"])
def test_without_softmax_drops_each_kind_of_head(head):
    x, _ = tiny_data(4)
    model = _head(head)
    logits_model = keras_mixkd.models.without_softmax(model)
    activation = keras.ops.sigmoid if "sigmoid" in head else keras.ops.softmax
    np.testing.assert_allclose(activation(logits_model(x)), model(x),
                               rtol=1e-5, atol=1e-7)
    assert logits.check_logits(logits_model, "teacher")


def test_without_softmax_refuses_what_it_cannot_rebuild():
    x, _ = tiny_data(2)
    subclassed = SoftmaxInCall()
    subclassed(x)
    with pytest.raises(ValueError, match="subclassed|call\\(\\)"):
        keras_mixkd.models.without_softmax(subclassed)
    with pytest.raises(ValueError, match="no final softmax"):
        keras_mixkd.models.without_softmax(tiny_model("m"))


def test_looks_like_probabilities():
    rows = np.array([[0.2, 0.8], [0.5, 0.5]])
    assert logits.looks_like_probabilities(rows)
    assert not logits.looks_like_probabilities(rows - 0.1)  # sums to 0.8
    assert not logits.looks_like_probabilities([[1.5, -0.5], [0.5, 0.5]])
    assert not logits.looks_like_probabilities(np.zeros((3, 4)))
