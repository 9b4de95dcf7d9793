"""The Keras internals keras_mixkd relies on, pinned (keras_mixkd._keras_compat).

A Keras release that changes one of them fails here, naming it.
"""

import inspect
import json

import keras
import numpy as np
import tensorflow as tf

from keras_mixkd import _keras_compat
from keras_mixkd import mixing
from keras_mixkd.distiller import Distiller
from tests.helpers import tiny_data
from tests.helpers import tiny_model


def test_backup_and_restore_writes_the_backup_files(tmp_path):
    """The layout a legacy backup is moved into is the one Keras writes and
    reads: its weights file and its epoch file, nothing else."""
    model = tiny_model("m")
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = tiny_data(16)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path),
                                              delete_checkpoint=False)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[backup])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        _keras_compat.BACKUP_FILES)
    metadata = json.loads((tmp_path / _keras_compat.BACKUP_FILES[1])
                          .read_text())
    assert metadata["epoch"] == 2
    restored = tiny_model("m", seed=5)
    restored.compile("sgd", "sparse_categorical_crossentropy")
    history = restored.fit(x, y, epochs=3, batch_size=8, verbose=0,
                           callbacks=[keras.callbacks.BackupAndRestore(
                               str(tmp_path), delete_checkpoint=False)])
    assert len(history.history["loss"]) == 1  # epochs 1 and 2 skipped


def test_compile_metrics_is_the_compiled_container():
    model = tiny_model("m")
    model.compile("sgd", "sparse_categorical_crossentropy")
    assert _keras_compat.compile_metrics(model) is None
    model.compile("sgd", "categorical_crossentropy",
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    metrics = _keras_compat.compile_metrics(model)
    y = np.eye(5, dtype="float32")[[0, 1, 2, 3]]
    logits = np.eye(5, dtype="float32")[[0, 1, 4, 4]]
    metrics.update_state(y, logits)
    assert metrics.result()["accuracy"] == 0.5
    assert metrics in model.metrics


def test_variable_index_addresses_the_slot_lists():
    model = tiny_model("m")
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(model.trainable_variables)
    indices = [_keras_compat.variable_index(optimizer, v)
               for v in model.trainable_variables]
    assert sorted(indices) == list(range(len(model.trainable_variables)))
    for v, i in zip(model.trainable_variables, indices):
        assert tuple(optimizer.momentums[i].shape) == tuple(v.shape)


def test_in_multi_worker_mode_is_false_on_one_worker():
    assert not _keras_compat.in_multi_worker_mode(tf.distribute.get_strategy())
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert not _keras_compat.in_multi_worker_mode(mirrored)


def test_maybe_symbolic_build_signature_and_local_batch_build():
    parameters = inspect.signature(keras.Model._maybe_symbolic_build).parameters
    assert {"iterator", "data_batch"} <= set(parameters)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x, y = tiny_data(16)
    with strategy.scope():
        distiller = Distiller(student=tiny_model("s"),
                              teacher=tiny_model("t", seed=3),
                              mixer="none", distillation_loss="kd")
        distiller.compile(keras.optimizers.SGD(0.1), metrics=["accuracy"])
    history = distiller.fit(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1,
        verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert history.history["accuracy"][0] >= 0


def test_base_image_preprocessing_layer_is_kerass():
    assert issubclass(keras.layers.MixUp,
                      _keras_compat.BaseImagePreprocessingLayer)
    layer = mixing.PartialMixUp(alpha=1.0, mix_fraction=1.0, seed=0)
    images = np.arange(4 * 2 * 2 * 1, dtype="float32").reshape(4, 2, 2, 1)
    labels = np.eye(4, dtype="float32")
    out = layer({"images": images, "labels": labels}, training=True)
    # Each mixed row is a convex combination: label rows still sum to 1.
    np.testing.assert_allclose(np.sum(out["labels"], axis=1), 1.0, rtol=1e-6)
    assert out["images"].shape == images.shape


def test_producer_names_the_operation_and_its_inputs():
    """`_keras_compat.producer`: a functional output's layer, nested model
    or op, and the tensors that call received."""
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, name="d")(inputs)
    probabilities = keras.ops.softmax(hidden)
    operation, operation_inputs = _keras_compat.producer(probabilities)
    assert type(operation).__name__ == "Softmax"
    assert operation_inputs == [hidden]
    inner = keras.Model(inputs, hidden, name="inner")
    outer_inputs = keras.Input((4,))
    outer = inner(outer_inputs)
    operation, operation_inputs = _keras_compat.producer(outer)
    assert operation is inner and operation_inputs == [outer_inputs]
    assert _keras_compat.producer(np.zeros(2)) == (None, [])


def test_deferred_rate_tensorboard_writes_the_logs_as_given(tmp_path):
    model = tiny_model("m")
    model.compile(optimizer=keras.optimizers.SGD(0.25), loss="mse")
    callback = _keras_compat.DeferredRateTensorBoard(str(tmp_path))
    callback.set_model(model)
    # The built-in's hook: it asks it for the epoch logs it writes.
    assert "self._collect_learning_rate(" in inspect.getsource(
        keras.callbacks.TensorBoard._log_epoch_metrics)
    assert callback._collect_learning_rate({"loss": 1.0}) == {"loss": 1.0}
    logs = callback.collect_learning_rate({"loss": 1.0})
    assert logs["loss"] == 1.0
    assert float(logs["learning_rate"]) == 0.25
