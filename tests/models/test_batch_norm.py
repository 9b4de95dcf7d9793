"""FusedBatchNormalization computes what keras.layers.BatchNormalization does."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mixkd.models.batch_norm import FusedBatchNormalization
from keras_mixkd.models.batch_norm import fused_call
from keras_mixkd.models.batch_norm import use_fused_batch_norm
from keras_mixkd.models.batch_norm import use_fused_kernel


def _pair(shape, **kwargs):
    layers = (keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9,
                                              **kwargs),
              FusedBatchNormalization(epsilon=1e-5, momentum=0.9, **kwargs))
    for layer in layers:
        layer.build(shape)
        if layer.scale:
            layer.gamma.assign(np.linspace(0.5, 2.0, shape[-1]))
        if layer.center:
            layer.beta.assign(np.linspace(-1.0, 1.0, shape[-1]))
        layer.moving_mean.assign(np.linspace(-0.3, 0.3, shape[-1]))
        layer.moving_variance.assign(np.linspace(0.5, 1.5, shape[-1]))
    return layers


def _run(layer, x, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(layer(x, training=training), "float32")
        weights = np.linspace(-1.0, 1.0, int(np.prod(y.shape)))
        loss = tf.reduce_sum(y * weights.reshape(y.shape).astype("float32"))
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    return y.numpy(), [g.numpy() for g in grads]


@pytest.mark.parametrize("policy,tol", [("float32", 1e-5),
                                        ("mixed_bfloat16", 2e-2)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs", [{}, {"center": False, "scale": False}])
def test_same_outputs_gradients_and_statistics(policy, tol, training, kwargs):
    keras.mixed_precision.set_global_policy(policy)
    try:
        x = tf.constant(np.random.default_rng(0).normal(
            1.0, 3.0, (6, 5, 5, 4)).astype("float32"))
        keras_bn, fused = _pair(x.shape, **kwargs)
        x = tf.cast(x, keras_bn.compute_dtype)
        (y_a, g_a), (y_b, g_b) = (_run(keras_bn, x, training),
                                  _run(fused, x, training))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    np.testing.assert_allclose(y_b, y_a, rtol=tol, atol=tol)
    for a, b in zip(g_a, g_b):
        a, b = np.asarray(a, "float32"), np.asarray(b, "float32")
        np.testing.assert_allclose(b, a, rtol=tol,
                                   atol=tol * np.abs(a).max())
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(getattr(fused, name).numpy(),
                                   getattr(keras_bn, name).numpy(),
                                   rtol=1e-5, atol=1e-6)
    moved = not np.allclose(fused.moving_mean.numpy(),
                            np.linspace(-0.3, 0.3, 4))
    assert moved == training


def test_population_variance_in_the_moving_average():
    # One channel, values 0..7: population variance 5.25 (not 5.25 * 8/7).
    x = tf.reshape(tf.range(8, dtype="float32"), (2, 2, 2, 1))
    bn = FusedBatchNormalization(momentum=0.0, epsilon=1e-5)
    bn(x, training=True)
    np.testing.assert_allclose(bn.moving_mean.numpy(), [3.5], rtol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), [5.25], rtol=1e-6)


def test_falls_back_where_the_kernel_does_not_apply():
    x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    keras_bn, fused = _pair(x.shape)  # 2-D input: Keras's own computation
    np.testing.assert_array_equal(fused(x, training=True).numpy(),
                                  keras_bn(x, training=True).numpy())


def test_serialization_round_trip():
    layer = FusedBatchNormalization(epsilon=1e-5, momentum=0.9, name="bn")
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer))
    assert type(clone) is FusedBatchNormalization
    assert clone.get_config() == layer.get_config()


def test_fused_kernel_on_a_built_in_layer_keeps_it_portable():
    x = np.random.default_rng(2).normal(size=(4, 6, 6, 3)).astype("float32")
    plain = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9)
    fused = use_fused_kernel(
        keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9))
    assert type(fused) is keras.layers.BatchNormalization
    assert fused.call.__func__ is fused_call
    plain.build(x.shape)
    fused.build(x.shape)
    for step in range(2):
        np.testing.assert_allclose(fused(x, training=True).numpy(),
                                   plain(x, training=True).numpy(),
                                   atol=1e-5)
    np.testing.assert_allclose(fused.moving_variance.numpy(),
                               plain.moving_variance.numpy(), rtol=1e-5)
    config = keras.saving.serialize_keras_object(fused)
    assert config["class_name"] == "BatchNormalization"
    assert config["module"].startswith("keras")
    with pytest.raises(TypeError, match="BatchNormalization"):
        use_fused_kernel(keras.layers.Dense(2))


def test_use_fused_batch_norm_reaches_nested_models():
    inner = keras.Sequential([keras.Input((4, 4, 2)),
                              keras.layers.BatchNormalization()])
    outer = keras.Sequential([keras.Input((4, 4, 2)), inner,
                              keras.layers.BatchNormalization()])
    use_fused_batch_norm(outer)
    assert inner.layers[0].call.__func__ is fused_call
    assert outer.layers[1].call.__func__ is fused_call
