"""The only module that touches Keras (and tf.distribute) internals.

Each helper names the private attribute it relies on; tests/test_keras_compat.py
pins the behaviour, so that a Keras release that changes it fails there
first, with the name of what changed.
"""

import keras
import tensorflow as tf
from keras.src.layers.preprocessing.image_preprocessing.base_image_preprocessing_layer import (  # noqa: E501
    BaseImagePreprocessingLayer,
)

__all__ = ["BACKUP_FILES", "BaseImagePreprocessingLayer",
           "DeferredRateTensorBoard", "LocalBatchBuild", "compile_metrics",
           "in_multi_worker_mode", "producer", "variable_index"]


#: The files `keras.callbacks.BackupAndRestore` writes in its ``backup_dir``
#: (the fitted model's weights, and the epoch): `keras_mixkd.training.Backup`
#: writes them itself only to move a backup of an earlier version into
#: that layout.
BACKUP_FILES = ("latest.weights.h5", "training_metadata.json")


def compile_metrics(model):
    """The metrics container of ``model.compile(metrics=...)``, or None.

    A custom ``train_step`` updates it and lists it in ``model.metrics``
    (``model._compile_metrics``).
    """
    return model._compile_metrics


def variable_index(optimizer, variable):
    """The index of ``variable`` in the optimizer's slot lists.

    ``optimizer._get_variable_index``: e.g. ``optimizer.momentums[i]`` is
    the momentum buffer of the variable.
    """
    return optimizer._get_variable_index(variable)


def producer(tensor):
    """The operation that computed a functional model's symbolic tensor,
    and that call's input tensors: ``(operation, [inputs])``.

    ``tensor._keras_history`` names the operation (a layer, a nested model,
    or an op such as ``keras.ops.softmax``) and the index of its call
    (node); ``operation._inbound_nodes[index].input_tensors`` are that
    call's inputs. ``(None, [])`` for a tensor without a history.
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None, []
    operation = history.operation
    node = operation._inbound_nodes[history.node_index]
    return operation, list(node.input_tensors)


def in_multi_worker_mode(strategy):
    """Whether ``strategy`` spans several workers (Keras's own test)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode())


class LocalBatchBuild:
    """Mixin: `keras.Model`'s build before ``fit``, without a reduction.

    Under a strategy, Keras (TF backend, ``Model._maybe_symbolic_build``)
    builds the model's state from the first batch, which it first reduces
    across replicas only to read its shapes; under
    `MultiWorkerMirroredStrategy` that reduction fails
    (keras-team/keras#20585). This replica's own part of the batch has the
    same shapes. Place the mixin before `keras.Model` in the bases.

    Keras's epoch iterator yields ``(step, batches)`` up to Keras 3.10 and
    ``(begin_step, end_step, batches)`` since: the batches come last.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is not None and strategy is not None:
            for *_, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0],
                    next(batches))
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator,
                                             data_batch=data_batch)


class DeferredRateTensorBoard(keras.callbacks.TensorBoard):
    """`keras.callbacks.TensorBoard` that writes an epoch's logs as given.

    The built-in's ``on_epoch_end`` adds the optimizer's current learning
    rate to the logs it writes (its private hook
    ``_collect_learning_rate``, called by ``_log_epoch_metrics``). A subclass that writes an epoch later
    than the epoch ends would then write a later epoch's rate: here that
    hook leaves the logs as they are, and `collect_learning_rate` adds
    the rate when the subclass calls it (when the epoch ends).
    """

    def collect_learning_rate(self, logs):
        """``logs`` with the optimizer's current ``learning_rate`` added."""
        return super()._collect_learning_rate(logs)

    def _collect_learning_rate(self, logs):
        return logs
