"""Features of the zoo by stage (RepDistiller's ``is_feat`` lists) and of any
model by layer name, sharing the model's weights."""

import keras
import numpy as np
import pytest

from keras_mixkd.models import create
from keras_mixkd.models import feature_layers
from keras_mixkd.models import with_features

#: The shapes (NHWC, batch left out) of RepDistiller's ``forward(x,
#: is_feat=True)`` on 32x32 images, read off the official ``models/*.py``:
#: the stem, each stage, the pooled vector.
OFFICIAL_SHAPES = {
    "resnet8": [(32, 32, 16), (32, 32, 16), (16, 16, 32), (8, 8, 64), (64,)],
    "resnet20": [(32, 32, 16), (32, 32, 16), (16, 16, 32), (8, 8, 64),
                 (64,)],
    "resnet8x4": [(32, 32, 32), (32, 32, 64), (16, 16, 128), (8, 8, 256),
                  (256,)],
    "wrn_16_2": [(32, 32, 16), (32, 32, 32), (16, 16, 64), (8, 8, 128),
                 (128,)],
    "vgg8": [(32, 32, 64), (16, 16, 128), (8, 8, 256), (4, 4, 512),
             (4, 4, 512), (512,)],
    "MobileNetV2": [(16, 16, 16), (16, 16, 12), (8, 8, 16), (4, 4, 48),
                    (2, 2, 160), (1280,)],
    "ShuffleV1": [(32, 32, 24), (16, 16, 240), (8, 8, 480), (4, 4, 960),
                  (960,)],
    "ShuffleV2": [(32, 32, 24), (16, 16, 116), (8, 8, 232), (4, 4, 464),
                  (1024,)],
}


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(
        "float32")


def _shapes(outputs):
    return [tuple(f.shape[1:]) for f in outputs]


@pytest.mark.parametrize("arch", sorted(OFFICIAL_SHAPES))
def test_zoo_features_have_the_official_shapes(arch, images):
    model = create(arch, num_classes=10)
    features, logits = with_features(model)(images)
    assert _shapes(features) == OFFICIAL_SHAPES[arch]
    np.testing.assert_allclose(np.asarray(logits), np.asarray(model(images)),
                               rtol=1e-5, atol=1e-6)


def test_resnet50_has_four_stages():
    names = feature_layers(create("ResNet50", num_classes=10))
    assert names == ["relu", "layer1.2.relu", "layer2.3.relu",
                     "layer3.5.relu", "layer4.2.relu", "penultimate"]


@pytest.mark.parametrize("arch", ["resnet8", "vgg8", "ShuffleV1"])
def test_last_stage_is_what_the_classifier_pools(arch, images):
    """Post-activation families: the pooled vector is the last map's mean."""
    features, _ = with_features(create(arch, num_classes=10))(images)
    np.testing.assert_allclose(np.mean(np.asarray(features[-2]), axis=(1, 2)),
                               np.asarray(features[-1]), rtol=1e-5,
                               atol=1e-6)


def test_wide_resnet_stages_are_pre_activation(images):
    """As the official code: the raw block sums, before the next BN-ReLU."""
    model = create("wrn_16_2", num_classes=10)
    features, _ = with_features(model)(images)
    stage = np.asarray(features[3])
    assert np.min(stage) < 0
    activated = model.get_layer("relu")(
        model.get_layer("bn1")(stage, training=False))
    np.testing.assert_allclose(np.mean(np.asarray(activated), axis=(1, 2)),
                               np.asarray(features[4]), rtol=1e-5, atol=1e-6)


def test_weights_are_shared_not_copied(images):
    model = create("resnet8", num_classes=10)
    extended = with_features(model)
    assert len(extended.weights) == len(model.weights)
    assert all(a is b for a, b in zip(extended.weights, model.weights))
    kernel = model.get_layer("fc").kernel
    kernel.assign(kernel * 2.0)
    np.testing.assert_allclose(np.asarray(extended(images)[1]),
                               np.asarray(model(images)), rtol=1e-5)


def test_keras_applications_by_layer_name():
    model = create("keras.applications.MobileNetV3Small", num_classes=4,
                   input_shape=(48, 48, 3))
    names = [model.layers[5].name, model.layers[-8].name]
    images = np.random.default_rng(1).uniform(0, 255, (2, 48, 48, 3))
    features, logits = with_features(model, names)(images)
    for name, feature in zip(names, features):
        alone = keras.Model(model.input, model.get_layer(name).output)
        np.testing.assert_allclose(np.asarray(feature),
                                   np.asarray(alone(images)), rtol=1e-5,
                                   atol=1e-5)
    assert logits.shape == (2, 4)
    with pytest.raises(ValueError, match="not a model of the zoo"):
        feature_layers(model)


def test_sequential_model_by_layer_name():
    model = keras.Sequential([
        keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
    features, logits = with_features(model, ["conv"])(np.ones((1, 8, 8, 3)))
    assert _shapes(features) == [(6, 6, 4)] and logits.shape == (1, 3)


@pytest.mark.parametrize("layers,match", [
    (["no_such_layer"], "has no layer named 'no_such_layer'"),
    ("relu", "non-empty list of layer names"),
    ([], "non-empty list of layer names"),
])
def test_bad_layer_names_are_refused(layers, match):
    with pytest.raises(ValueError, match=match):
        with_features(create("resnet8", num_classes=10), layers)


def test_a_renamed_zoo_model_asks_for_names():
    model = create("resnet8", num_classes=10)
    renamed = keras.Model(model.input, model.output, name="my_student")
    with pytest.raises(ValueError, match="Name the layers"):
        feature_layers(renamed)
    assert _shapes(with_features(renamed, feature_layers(model)).outputs[:-1]) \
        == OFFICIAL_SHAPES["resnet8"]


def test_unbuilt_model_is_refused():
    model = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="no symbolic inputs"):
        with_features(model, ["dense"])
