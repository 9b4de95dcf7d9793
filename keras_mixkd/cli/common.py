"""What every ``mixkd`` command shares: devices, data, weights, fitting."""

import os
import pathlib
import shutil
import sys
import tempfile

import keras
import tensorflow as tf
from absl import app

from keras_mixkd import data
from keras_mixkd import models
from keras_mixkd import recipe
from keras_mixkd.cli.flags import FLAGS
from keras_mixkd.cli.run_folder import Backup
from keras_mixkd.cli.run_folder import RunFolder
from keras_mixkd.models import torch_import

#: Flags every training run records in its configuration.
TRAINING_FLAGS = ("dataset", "epochs", "batch_size", "learning_rate",
                  "weight_decay", "seed", "strategy", "mixed_precision",
                  "jit_compile")


def fail(message):
    """Stops the command with a usage error (exit status 1, no traceback)."""
    raise app.UsageError(message)


def require(*names):
    """Fails unless each flag has a value."""
    missing = [f"--{n}" for n in names if FLAGS[n].value in (None, "")]
    if missing:
        fail(f"Missing {', '.join(missing)}.")


def check_model_name(name, flag):
    """Fails with the list of architectures when ``name`` is unknown."""
    if name not in models.available():
        fail(f"--{flag}={name} is not an architecture. Choose one of: "
             f"{', '.join(models.available())}.")


def setup_runtime():
    """Seeds, determinism, precision policy and strategy from the flags.

    ``--deterministic`` enables TensorFlow's op determinism for the rest of
    the process.

    Returns:
        The `tf.distribute.Strategy` to build and train under.
    """
    keras.utils.set_random_seed(FLAGS.seed)
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()
    policy = {"none": "float32", "float16": "mixed_float16",
              "bfloat16": "mixed_bfloat16"}[FLAGS.mixed_precision]
    keras.mixed_precision.set_global_policy(policy)
    if FLAGS.strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if FLAGS.strategy == "multiworker":
        if "TF_CONFIG" not in os.environ:
            fail("--strategy=multiworker needs the TF_CONFIG environment "
                 "variable describing the cluster (see the README).")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy):
    """Whether this process writes the run folder (always, but for workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type in ("chief", "master") or (
        resolver.task_type == "worker" and resolver.task_id == 0)


def load_data(strategy):
    """The dataset pipelines batched by the global batch size.

    Returns:
        ``(train_ds, test_ds, info, global_batch, steps_per_epoch)``.
    """
    if FLAGS.batch_size < 1 or FLAGS.epochs < 1:
        fail("--batch_size and --epochs must be >= 1.")
    batch = data.global_batch_size(FLAGS.batch_size, strategy)
    try:
        train_ds, test_ds, info = data.load(
            FLAGS.dataset, batch_size=batch, data_dir=FLAGS.data_dir,
            seed=FLAGS.seed)
    except Exception as e:  # tfds raises many types for a missing download
        fail(f"Could not load --dataset={FLAGS.dataset}: {e}. Without "
             "network, use --dataset=digits or a prepared --data_dir.")
    steps = int(train_ds.cardinality())
    if steps < 1:
        steps = -(-(info.num_train or 0) // batch)
    if steps < 1:
        fail(f"--dataset={FLAGS.dataset} has no training examples.")
    return train_ds, test_ds, info, batch, steps


def copy_weights(source, target):
    """Copies weights layer by layer, by name, checking every shape.

    Raises:
        ValueError: naming the layers missing from ``source`` and those whose
            shapes differ (e.g. another architecture or number of classes).
    """
    layers = {layer.name: layer for layer in source.layers}
    problems, pairs = [], []
    for layer in target.layers:
        if not layer.weights:
            continue
        other = layers.get(layer.name)
        if other is None:
            problems.append(f"layer {layer.name!r} missing")
            continue
        shapes = [tuple(w.shape) for w in layer.weights]
        other_shapes = [tuple(w.shape) for w in other.weights]
        if shapes != other_shapes:
            problems.append(f"layer {layer.name!r}: {other_shapes} in the "
                            f"file, {shapes} expected")
        pairs.append((layer, other))
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ValueError(f"the file holds model {source.name!r}: {shown}"
                         f"{more}")
    for layer, other in pairs:
        layer.set_weights(other.get_weights())


def load_weights(model, path, flag):
    """Loads ``.keras`` / ``.weights.h5`` or official ``.pth`` weights.

    Fails with a message naming the flag when the file is missing or holds
    another architecture.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        fail(f"--{flag}: no file at {path}.")
    try:
        if path.suffix in (".pth", ".pt", ".tar"):
            torch_import.load_torch_weights(model, path)
        elif path.suffix == ".keras":
            copy_weights(keras.saving.load_model(path, compile=False), model)
        elif path.name.endswith(".weights.h5"):
            model.load_weights(path)
        else:
            fail(f"--{flag}={path}: expected a .keras, .weights.h5 or "
                 "official PyTorch .pth file.")
    except app.UsageError:
        raise
    except Exception as e:
        fail(f"--{flag}={path} does not fit the {model.name} architecture "
             f"with {model.output_shape[-1]} classes: {e}")
    return model


def optimizer_for(model_name, steps_per_epoch, global_batch):
    """The paper's optimizer for the flags' epochs and learning rate."""
    if FLAGS.learning_rate is not None and FLAGS.learning_rate <= 0:
        fail(f"--learning_rate must be > 0, got {FLAGS.learning_rate}.")
    return recipe.paper_optimizer(
        model_name, steps_per_epoch, epochs=FLAGS.epochs,
        global_batch_size=global_batch, learning_rate=FLAGS.learning_rate,
        weight_decay=FLAGS.weight_decay)


def verbosity():
    """Keras ``verbose``: a progress bar on a terminal, lines otherwise."""
    if FLAGS.verbose != "auto":
        return int(FLAGS.verbose)
    return 1 if sys.stdout.isatty() else 2


def open_run(default_name, config, strategy):
    """The `RunFolder` of this command (a scratch folder on non-chiefs)."""
    chief = is_chief(strategy)
    if FLAGS.deterministic:  # recorded only when set: older folders resume
        config = {**config, "deterministic": True}
    path = FLAGS.output_dir or os.path.join("runs", default_name)
    backed_up = Backup.finished_epochs(os.path.join(path, "backup"))
    if FLAGS.strategy == "multiworker" and chief and backed_up:
        fail(f"{path} holds an interrupted multi-worker run ({backed_up} "
             "epochs backed up). Resuming a multi-worker run is not supported"
             " (the other workers cannot restore the chief's state): start "
             "it again with another --output_dir, or delete the folder. Stop"
             " the other workers too.")
    if not chief:
        path = tempfile.mkdtemp(prefix="mixkd-worker-")
    try:
        return RunFolder(path, config, chief=chief)
    except ValueError as e:
        fail(str(e))


class SyncReplicaStatistics(keras.callbacks.Callback):
    """Averages a model's non-trainable statistics over all replicas.

    Under a `tf.distribute` strategy, each replica (each worker) updates its
    own copy of the BatchNormalization moving means and variances with its
    own batches (as PyTorch DDP does without SyncBatchNorm), so the copies
    drift apart: a worker's saved model would depend on the worker. Before
    each validation and at each epoch end, this callback sets every copy to
    the mean over replicas. It runs a collective, so every worker must run
    it at the same points (it is in every worker's callbacks). It does
    nothing with a single replica.

    Args:
        model: the model whose statistics to average (the student).
    """

    def __init__(self, model):
        super().__init__()
        self.saved_model = model
        self._average = None

    def _sync(self):
        strategy = self.model.distribute_strategy
        if strategy.num_replicas_in_sync < 2:
            return
        if self._average is None:
            variables = [v for v in self.saved_model.non_trainable_variables
                         if "float" in v.dtype]

            def replica_means():
                return tf.distribute.get_replica_context().all_reduce(
                    "mean", [tf.identity(v.value) for v in variables])

            @tf.function
            def average():
                means = strategy.run(replica_means)
                for variable, mean in zip(variables, means):
                    copies = getattr(variable.value, "values",
                                     (variable.value,))
                    for copy, value in zip(
                            copies, strategy.experimental_local_results(mean)):
                        copy.assign(value)

            self._average = average
        self._average()

    def on_test_begin(self, logs=None):
        self._sync()

    def on_epoch_end(self, epoch, logs=None):
        self._sync()


def fit(run, fitted, saved, train_ds, test_ds, epochs=None):
    """Runs ``fitted.fit`` with the run folder's callbacks, then summarises.

    Args:
        run: the `RunFolder`.
        fitted: the model whose ``fit`` runs (a model or a `Distiller`).
        saved: the model the checkpoints hold.
        train_ds: training pipeline.
        test_ds: validation pipeline (clean test data).
        epochs: defaults to ``--epochs``.

    Returns:
        The summary dict (also written as ``summary.json``).
    """
    fitted.fit(train_ds, validation_data=test_ds, shuffle=False,
               epochs=epochs or FLAGS.epochs, verbose=verbosity(),
               callbacks=[SyncReplicaStatistics(saved),
                          *run.callbacks(saved)])
    try:
        run.check_finished()
    except RuntimeError as e:
        fail(str(e))
    summary = run.write_summary()
    if not run.chief:  # a worker's scratch folder: nothing to keep
        shutil.rmtree(run.path, ignore_errors=True)
    return summary
