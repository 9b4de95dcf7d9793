"""The paper's optimizer, weight decay and learning-rate schedule."""

import keras
import numpy as np
import pytest

from keras_mixkd import recipe


def _torch_sgd(p, grads, lrs, momentum, weight_decay, nesterov=False):
    """torch.optim.SGD's update, written out in numpy."""
    p, buf = p.copy(), None
    for g, lr in zip(grads, lrs):
        g = g + weight_decay * p
        buf = g if buf is None else momentum * buf + g
        p = p - lr * ((g + momentum * buf) if nesterov else buf)
    return p


@pytest.mark.parametrize("nesterov", [False, True])
def test_torch_sgd_matches_pytorch_rule_across_a_learning_rate_drop(nesterov):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(3, 2))
    grads = [rng.normal(size=(3, 2)) for _ in range(6)]
    schedule = recipe.learning_rate_schedule(0.1, steps_per_epoch=2, epochs=4,
                                             milestones=(2,))
    variable = keras.Variable(p0.astype("float32"))
    optimizer = recipe.TorchSGD(schedule, momentum=0.9, nesterov=nesterov,
                                weight_decay=0.05)
    for g in grads:
        optimizer.apply_gradients([(g.astype("float32"), variable)])
    lrs = [0.1] * 4 + [0.01] * 2  # epochs 0-1 at 0.1, from epoch 2 at 0.01
    expected = _torch_sgd(p0, grads, lrs, 0.9, 0.05, nesterov)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5,
                               atol=1e-6)


def test_keras_sgd_weight_decay_would_differ():
    # The reason TorchSGD exists: Keras decouples weight decay.
    rng = np.random.default_rng(1)
    p0 = rng.normal(size=(4,))
    grads = [rng.normal(size=(4,)) for _ in range(3)]
    variable = keras.Variable(p0.astype("float32"))
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=0.05)
    for g in grads:
        optimizer.apply_gradients([(g.astype("float32"), variable)])
    expected = _torch_sgd(p0, grads, [0.1] * 3, 0.9, 0.05)
    assert not np.allclose(variable.numpy(), expected, rtol=1e-4)


def test_weight_decay_reaches_batch_norm_parameters():
    layer = keras.layers.BatchNormalization()
    layer.build((None, 3))
    optimizer = recipe.TorchSGD(0.1, momentum=0.0, weight_decay=0.5)
    zero = np.zeros(3, "float32")
    optimizer.apply_gradients(zip([zero, zero], layer.trainable_weights))
    np.testing.assert_allclose(layer.gamma.numpy(), 1 - 0.1 * 0.5)


def test_schedule_drops_at_the_official_milestones():
    schedule = recipe.learning_rate_schedule(0.05, steps_per_epoch=10)
    for step, lr in [(0, 0.05), (1499, 0.05), (1500, 0.005), (1799, 0.005),
                     (1800, 0.0005), (2100, 0.00005), (2399, 0.00005)]:
        np.testing.assert_allclose(float(schedule(step)), lr, rtol=1e-6)


def test_milestones_scale_with_the_run_length():
    assert recipe.milestones_for(240) == (150, 180, 210)
    assert recipe.milestones_for(8) == (5, 6, 7)
    assert recipe.milestones_for(1) == ()
    assert recipe.learning_rate_schedule(0.05, 10, epochs=1) == 0.05
    with pytest.raises(ValueError, match="increase"):
        recipe.milestones_for(10, (5, 3))


def test_learning_rates_of_the_paper():
    assert recipe.learning_rate_for("resnet8x4") == 0.05
    for name in ("MobileNetV2", "ShuffleV1", "ShuffleV2"):
        assert recipe.learning_rate_for(name) == 0.01
    assert recipe.scaled_learning_rate(0.05, 128) == pytest.approx(0.1)
    optimizer = recipe.paper_optimizer("ShuffleV2", steps_per_epoch=5,
                                       epochs=240, global_batch_size=256)
    assert isinstance(optimizer, recipe.TorchSGD)
    np.testing.assert_allclose(float(optimizer.learning_rate), 0.04,
                               rtol=1e-6)
    assert optimizer.coupled_weight_decay == 5e-4
    assert optimizer.momentum == 0.9


def test_torch_sgd_serializes():
    optimizer = recipe.TorchSGD(0.01, momentum=0.8, weight_decay=1e-3)
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer))
    assert isinstance(restored, recipe.TorchSGD)
    assert restored.coupled_weight_decay == 1e-3 and restored.momentum == 0.8
    assert restored.weight_decay is None  # no decoupled decay on top


def test_bad_arguments():
    with pytest.raises(ValueError, match="weight_decay"):
        recipe.TorchSGD(weight_decay=-1.0)
    with pytest.raises(ValueError, match="learning rate"):
        recipe.paper_optimizer("resnet8", 10, learning_rate=0.0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        recipe.learning_rate_schedule(0.1, 0)


def _plateau_distiller(optimizer):
    from tests.helpers import tiny_model
    import keras_mixkd
    distiller = keras_mixkd.Distiller(student=tiny_model("student"),
                                      teacher=tiny_model("teacher", seed=3))
    distiller.compile(optimizer=optimizer)
    return distiller


def test_a_rate_callback_with_the_paper_schedule_is_refused_before_training():
    from tests.helpers import tiny_data
    distiller = _plateau_distiller(
        recipe.paper_optimizer("resnet8", steps_per_epoch=2, epochs=4))
    before = distiller.student.get_weights()
    with pytest.raises(ValueError, match=(
            r"ReduceLROnPlateau sets the learning rate, but the optimizer's "
            r"rate follows a schedule.*paper_optimizer\(\.\.\., "
            r"milestones=\(\)\)")):
        distiller.fit(*tiny_data(16), batch_size=8, epochs=2, verbose=0,
                      callbacks=[keras.callbacks.ReduceLROnPlateau("loss")])
    for a, b in zip(before, distiller.student.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_constant_rate_paper_optimizer_takes_reduce_lr_on_plateau():
    from tests.helpers import tiny_data
    optimizer = recipe.paper_optimizer("resnet8", steps_per_epoch=2,
                                       epochs=4, milestones=())
    assert isinstance(optimizer, recipe.TorchSGD)
    assert optimizer.coupled_weight_decay == 5e-4
    distiller = _plateau_distiller(optimizer)
    # min_delta so large that no epoch counts as an improvement after the
    # first: the rate halves after each later epoch.
    plateau = keras.callbacks.ReduceLROnPlateau("loss", factor=0.5,
                                                patience=1, min_delta=1e9)
    distiller.fit(*tiny_data(16), batch_size=8, epochs=3, verbose=0,
                  callbacks=[plateau])
    assert float(distiller.optimizer.learning_rate) == pytest.approx(
        0.05 * 0.25)
