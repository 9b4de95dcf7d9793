"""keras.applications names beside the zoo, `.keras` files, and distilling."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mixkd
from keras_mixkd import data
from keras_mixkd import models

MOBILENET = "keras.applications.MobileNet"
V3_SMALL = "keras.applications.MobileNetV3Small"


def test_applications_are_resolved_beside_the_zoo():
    assert len(models.available()) == 22
    assert not any(n.startswith("keras.") for n in models.available())
    model = models.create(MOBILENET, num_classes=7, input_shape=(40, 48, 1),
                          alpha=0.25)
    assert model.input_shape == (None, 40, 48, 1)
    assert model.output_shape == (None, 7)
    # Logits, not probabilities: the classifier has no softmax.
    out = model(np.random.default_rng(0).normal(size=(4, 40, 48, 1)))
    assert not np.allclose(np.sum(out, axis=1), 1.0)
    v3 = models.create(V3_SMALL, num_classes=3, input_shape=(48, 48, 3),
                       minimalistic=True)
    # The data pipelines normalise: no Rescaling inside.
    assert not any(isinstance(layer, keras.layers.Rescaling)
                   for layer in v3.layers)


def test_application_name_and_option_errors(tmp_path):
    with pytest.raises(ValueError, match="keras.applications.MobileNetV3Small"
                       ) as error:
        models.create("keras.applications.NoSuchNet", num_classes=3)
    assert "keras.applications.ResNet50" in str(error.value)
    with pytest.raises(ValueError, match="keras.applications.<Name>"):
        models.check_name("resnet9000")
    models.check_name(V3_SMALL)
    with pytest.raises(ValueError, match="no option beta"):
        models.create(MOBILENET, num_classes=3, beta=2)
    with pytest.raises(ValueError, match="takes no options"):
        models.create("resnet8", num_classes=3, alpha=0.5)
    with pytest.raises(ValueError, match="nothing is downloaded"):
        models.create(MOBILENET, num_classes=3, weights="imagenet")
    with pytest.raises(ValueError, match=r"input shape \(8, 8, 3\)"):
        models.create(MOBILENET, num_classes=3, input_shape=(8, 8, 3))


def test_weights_file_and_keras_file(tmp_path):
    kwargs = dict(num_classes=4, input_shape=(32, 32, 3), alpha=0.25)
    model = models.create(MOBILENET, **kwargs)
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    model.save_weights(tmp_path / "m.weights.h5")
    again = models.create(MOBILENET, weights=str(tmp_path / "m.weights.h5"),
                          **kwargs)
    np.testing.assert_allclose(again.predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = models.load(tmp_path / "m.keras", num_classes=4,
                         input_shape=(32, 32, 3))
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="outputs 4 logits.*10 classes"):
        models.load(tmp_path / "m.keras", num_classes=10)
    with pytest.raises(ValueError, match=r"images are \(40, 48, 3\)"):
        models.load(tmp_path / "m.keras", input_shape=(40, 48, 3))
    with pytest.raises(ValueError, match="expected a .keras file"):
        models.load(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="no such file"):
        models.load(tmp_path / "missing.keras")


def write_folder(root, classes=3, per_class=8, seed=0):
    """Class folders of 30x36 PNGs, each class its own brightness."""
    rng = np.random.default_rng(seed)
    for c in range(classes):
        (root / f"class_{c}").mkdir(parents=True)
        for i in range(per_class):
            image = np.clip(rng.normal(60 + 70 * c, 30, (30, 36, 3)), 0, 255)
            tf.io.write_file(str(root / f"class_{c}" / f"{i}.png"),
                             tf.io.encode_png(image.astype(np.uint8)))


@pytest.mark.slow
def test_distil_an_application_into_a_smaller_one_on_a_folder(tmp_path):
    write_folder(tmp_path / "images")
    train, test, info = data.load(f"folder:{tmp_path / 'images'}",
                                  batch_size=8, image_size=(40, 48))
    assert info.image_shape == (40, 48, 3) and info.num_classes == 3
    teacher = models.create(V3_SMALL, info.num_classes, info.image_shape,
                            minimalistic=True, alpha=0.75)
    student = models.create(MOBILENET, info.num_classes, info.image_shape,
                            alpha=0.25)
    assert student.count_params() < teacher.count_params()
    teacher_before = [w.numpy().copy() for w in teacher.weights]
    student_before = [w.numpy().copy() for w in student.weights]
    distiller = keras_mixkd.Distiller(student=student, teacher=teacher)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01),
                      metrics=["accuracy"])
    history = distiller.fit(data.one_hot(train, 3), epochs=1,
                            steps_per_epoch=2, verbose=0).history
    assert np.isfinite(history["loss"][0]) and history["kd_loss"][0] > 0
    assert any(not np.array_equal(a, w.numpy())
               for a, w in zip(student_before, student.weights))
    for a, w in zip(teacher_before, teacher.weights):
        np.testing.assert_array_equal(a, w.numpy())
    result = distiller.evaluate(data.one_hot(test, 3), verbose=0,
                                return_dict=True)
    assert 0.0 <= result["accuracy"] <= 1.0
