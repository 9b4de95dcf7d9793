"""Models the Distiller cannot take are refused at construction, and data
the student cannot take at the first batch, with one clear message."""

import keras
import numpy as np
import pytest

import keras_mixkd
from tests.helpers import CLASSES
from tests.helpers import tiny_model


def _gap_model(shape, name, seed=0):
    """A convolutional classifier that runs on any image size (global
    pooling), so only an explicit check catches a size mismatch."""
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=(
        keras.initializers.GlorotUniform(seed)))(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(CLASSES)(x)
    return keras.Model(inputs, outputs, name=name)


def _dict_model(name):
    image = keras.Input((8, 8, 3), name="image")
    extra = keras.Input((4,), name="extra")
    x = keras.layers.Concatenate()([keras.layers.Flatten()(image), extra])
    return keras.Model({"image": image, "extra": extra},
                       keras.layers.Dense(CLASSES)(x), name=name)


def _images(n, shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, *shape)).astype("float32"),
            rng.integers(0, CLASSES, n).astype("int64"))


@pytest.mark.parametrize("role", ["student", "teacher"])
def test_dict_input_models_are_refused_at_construction(role):
    models = {"student": tiny_model("student"),
              "teacher": tiny_model("teacher", seed=3)}
    models[role] = _dict_model(role)
    with pytest.raises(ValueError, match=(
            rf"`{role}` takes 2 input\(s\) as a dict \(extra, image\)\. "
            "The Distiller takes models with one input")):
        keras_mixkd.Distiller(**models)


def test_list_input_models_are_refused_even_without_a_mixer():
    a, b = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    student = keras.Model([a, b], keras.layers.Dense(CLASSES)(
        keras.layers.Flatten()(keras.layers.Add()([a, b]))))
    with pytest.raises(ValueError, match=r"`student` takes 2 input\(s\)"):
        keras_mixkd.Distiller(student=student, teacher=tiny_model("t"),
                              mixer=None)


def test_dict_batches_are_refused_before_any_update():
    distiller = keras_mixkd.Distiller(student=tiny_model("student"),
                                      teacher=tiny_model("teacher", seed=3))
    distiller.compile(optimizer="sgd")
    before = distiller.student.get_weights()
    x, y = _images(8, (8, 8, 3))
    with pytest.raises(ValueError, match=(
            "The training inputs are a dict, not one tensor")):
        distiller.fit({"image": x}, y, batch_size=8, verbose=0)
    for a, b in zip(before, distiller.student.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_teacher_for_another_image_size_is_refused_with_the_fix():
    student = _gap_model((8, 8, 3), "student")
    teacher = _gap_model((16, 16, 3), "teacher", seed=2)
    with pytest.raises(ValueError) as error:
        keras_mixkd.Distiller(student=student, teacher=teacher)
    message = str(error.value)
    assert ("The teacher expects inputs of shape (16, 16, 3) but the "
            "student (8, 8, 3)") in message
    assert "keras.layers.Resizing(16, 16)" in message
    # The fix the message gives works: the wrapped teacher distils.
    wrapped = keras.Sequential([keras.Input((8, 8, 3)),
                                keras.layers.Resizing(16, 16), teacher])
    distiller = keras_mixkd.Distiller(student=student, teacher=wrapped)
    distiller.compile(optimizer="sgd")
    history = distiller.fit(*_images(8, (8, 8, 3)), batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_a_teacher_with_other_channels_is_told_resizing_is_not_enough():
    with pytest.raises(ValueError, match="maps the 1 channels to 3"):
        keras_mixkd.Distiller(student=_gap_model((8, 8, 1), "student"),
                              teacher=_gap_model((8, 8, 3), "teacher"))


def test_free_dimensions_match_anything():
    student = _gap_model((None, None, 3), "student")
    keras_mixkd.Distiller(student=student,
                          teacher=_gap_model((16, 16, 3), "teacher"))


@pytest.mark.parametrize("mixer", ["pmu", None])
def test_data_of_another_size_is_refused_at_the_first_batch(mixer):
    # Global pooling would run the 12x12 images without complaint.
    distiller = keras_mixkd.Distiller(
        student=_gap_model((8, 8, 3), "student"),
        teacher=_gap_model((8, 8, 3), "teacher", seed=2), mixer=mixer)
    distiller.compile(optimizer="sgd")
    before = distiller.student.get_weights()
    with pytest.raises(ValueError, match=(
            r"The inputs have shape \(12, 12, 3\) per sample but the student "
            r"expects \(8, 8, 3\)\. Resize the images in the input pipeline, "
            r"e\.g\. keras\.layers\.Resizing\(8, 8\)")):
        distiller.fit(*_images(8, (12, 12, 3)), batch_size=8, verbose=0)
    for a, b in zip(before, distiller.student.get_weights()):
        np.testing.assert_array_equal(a, b)
