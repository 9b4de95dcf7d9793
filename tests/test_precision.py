"""Mixed precision and XLA together in the Distiller (what a GPU runs)."""

import keras
import numpy as np
import pytest

import keras_mixkd
from keras_mixkd import models
from keras_mixkd.models.batch_norm import fused_call


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    yield request.param
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow
@pytest.mark.parametrize("policy,jit", [
    ("mixed_float16", True), ("mixed_bfloat16", True),
    ("mixed_float16", False)], indirect=["policy"])
def test_mixed_precision_step_with_xla_gives_a_finite_loss(policy, jit):
    keras.utils.set_random_seed(0)
    teacher = models.create("resnet8", num_classes=10)
    student = models.create("resnet8", num_classes=10)
    d = keras_mixkd.Distiller(student=student, teacher=teacher, seed=0)
    d.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
              jit_compile=jit)
    # float16 gets Keras's dynamic loss scaling; bfloat16 needs none.
    assert isinstance(d.optimizer, keras.optimizers.LossScaleOptimizer) == (
        policy == "mixed_float16")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 32, 32, 3)).astype("float32")
    y = np.arange(16) % 10
    losses = d.fit(x, y, batch_size=8, epochs=2, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[0] > 0
    # Weights, BatchNorm statistics and the update stay float32.
    assert {w.dtype for w in student.weights} == {"float32"}
    assert student.get_layer("bn1").compute_dtype == policy[len("mixed_"):]
    assert type(student.get_layer("bn1")) is keras.layers.BatchNormalization
    assert student.get_layer("bn1").call.__func__ is fused_call
    if policy == "mixed_float16":
        assert float(d.optimizer.dynamic_scale) > 1.0
