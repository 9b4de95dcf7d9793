"""The model zoo against the official architectures' reference counts."""

import json
import re

import keras
import numpy as np
import pytest

from keras_mixkd.models import available
from keras_mixkd.models import create
from keras_mixkd.models import feature_model

#: Official architecture -> (family module, penultimate feature width).
ARCHITECTURES = {
    "resnet8": ("resnet", 64),
    "resnet14": ("resnet", 64),
    "resnet20": ("resnet", 64),
    "resnet32": ("resnet", 64),
    "resnet44": ("resnet", 64),
    "resnet56": ("resnet", 64),
    "resnet110": ("resnet", 64),
    "resnet8x4": ("resnet", 256),
    "resnet32x4": ("resnet", 256),
    "ResNet50": ("resnet", 2048),
    "wrn_16_1": ("wide_resnet", 64),
    "wrn_16_2": ("wide_resnet", 128),
    "wrn_40_1": ("wide_resnet", 64),
    "wrn_40_2": ("wide_resnet", 128),
    "vgg8": ("vgg", 512),
    "vgg11": ("vgg", 512),
    "vgg13": ("vgg", 512),
    "vgg16": ("vgg", 512),
    "vgg19": ("vgg", 512),
    "MobileNetV2": ("mobilenet", 1280),
    "ShuffleV1": ("shufflenet", 960),
    "ShuffleV2": ("shufflenet", 1024),
}
#: Cheap architectures (one or two per family) used for forward passes.
SMALL = ("resnet8", "resnet8x4", "wrn_16_1", "vgg8", "MobileNetV2",
         "ShuffleV1", "ShuffleV2")
#: Keras's automatic layer names; a weighted layer must never carry one.
AUTO_NAME = re.compile(
    r"^(conv2d|depthwise_conv2d|batch_normalization|dense)(_\d+)?$")


@pytest.fixture(scope="module")
def model_params(reference_dir):
    with open(reference_dir / "model_params.json") as f:
        return json.load(f)


def _count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def test_reference_lists_the_same_architectures(model_params):
    assert set(model_params) == set(ARCHITECTURES)


def test_available_lists_exactly_the_official_names():
    assert available() == sorted(ARCHITECTURES, key=str.lower)


def test_unknown_name_raises_and_lists_names():
    with pytest.raises(ValueError, match="Unknown model name") as info:
        create("resnet9000")
    for name in available():
        assert name in str(info.value)


def test_invalid_num_classes_raises():
    with pytest.raises(ValueError, match="num_classes"):
        create(available()[0], num_classes=0)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_architecture_matches_reference(name, model_params):
    reference = model_params[name]
    model = create(name)  # The reference counts use 100 classes.
    assert model.name == name
    assert model.output_shape == (None, 100)
    assert _count(model.trainable_weights) == reference["trainable_params"]
    batch_norms = [layer for layer in model.layers
                   if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(batch_norms) == reference["bn_layers"]
    # The only non-trainable weights are BatchNorm's moving mean/variance.
    assert (_count(model.non_trainable_weights)
            == reference["bn_running_values"])
    for layer in batch_norms:
        assert layer.epsilon == pytest.approx(1e-5)
    width = ARCHITECTURES[name][1]
    features = feature_model(model)
    assert features.output_shape == (None, width)
    assert model.layers[-1].kernel.shape == (width, 100)
    for layer in model.layers:
        if layer.weights:
            assert not AUTO_NAME.match(layer.name), layer.name


@pytest.mark.parametrize("name", SMALL)
def test_forward_pass(name):
    model = create(name, num_classes=10)
    assert model.output_shape == (None, 10)
    images = np.random.default_rng(0).normal(
        size=(2, 32, 32, 3)).astype("float32")
    for training in (False, True):
        logits = keras.ops.convert_to_numpy(model(images, training=training))
        assert logits.shape == (2, 10)
        assert np.all(np.isfinite(logits))
    features = keras.ops.convert_to_numpy(feature_model(model)(images))
    assert features.shape == (2, ARCHITECTURES[name][1])
    assert np.all(np.isfinite(features))


def _dense(name):
    model = create(name)
    return [w.numpy() for w in model.layers[-1].weights]


def test_resnet_classifier_has_torch_default_init():
    kernel, bias = _dense("resnet20")
    bound = 1 / np.sqrt(64)
    assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound
    assert np.abs(bias).max() > 0
    assert np.std(kernel) == pytest.approx(bound / np.sqrt(3), rel=0.1)


def test_wide_resnet_classifier_has_zero_bias():
    kernel, bias = _dense("wrn_16_1")
    assert np.abs(kernel).max() <= 1 / np.sqrt(64)
    np.testing.assert_array_equal(bias, 0)


def test_vgg_classifier_is_normal_with_std_0_01():
    kernel, bias = _dense("vgg8")
    assert np.std(kernel) == pytest.approx(0.01, rel=0.05)
    np.testing.assert_array_equal(bias, 0)


def test_vgg_pools_four_times_only_on_64x64_inputs():
    small = create("vgg8", input_shape=(32, 32, 3))
    large = create("vgg8", input_shape=(64, 64, 3))
    assert small.get_layer("block4.0").input.shape[1:3] == (4, 4)
    assert large.get_layer("block4.0").input.shape[1:3] == (4, 4)
    assert "pool3" not in [layer.name for layer in small.layers]
