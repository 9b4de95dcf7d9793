"""The training engine: a command's configuration in, a trained model and
its summary out (`TeacherConfig`, `DistillConfig`, `EvaluateConfig`; a
`RunConfig` serves each).

`train_teacher` and `distill` own their run folder (`RunFolder`): calling
one again with the same configuration resumes the run from its last
finished epoch, after any interruption, a kill included; once all its
epochs are done, it trains nothing, says where the results are and returns
them (``overwrite=True`` trains again from scratch).

Example:

```python
teacher, summary = train_teacher(TeacherConfig(
    dataset="digits", model="resnet14", epochs=8, output_dir="runs/teacher"))
student, summary = distill(DistillConfig(
    dataset="digits", teacher="resnet14", student="resnet8", epochs=8,
    output_dir="runs/mixkd"), teacher=teacher)
```
"""

import functools
import os
import shutil
import sys
import tempfile

import keras
import tensorflow as tf

from keras_mixkd import data
from keras_mixkd import feature_terms
from keras_mixkd import mixing
from keras_mixkd import models
from keras_mixkd import recipe
from keras_mixkd.distiller import Distiller
from keras_mixkd.training.callbacks import Backup
from keras_mixkd.training.callbacks import SyncReplicaStatistics
from keras_mixkd.training.command_config import DistillConfig
from keras_mixkd.training.command_config import EvaluateConfig
from keras_mixkd.training.command_config import TeacherConfig
from keras_mixkd.training.command_config import as_config
from keras_mixkd.training.config_rules import FOLD_TEACHER
from keras_mixkd.training.config_rules import PRECISION_POLICIES
from keras_mixkd.training.run_files import RunFiles
from keras_mixkd.training.run_folder import RunFolder
from keras_mixkd.training.run_folder import accuracy_line
from keras_mixkd.training.run_folder import finished_run
from keras_mixkd.training.run_folder import run_label
from keras_mixkd.training.run_folder import run_path
from keras_mixkd.training.validation import held_out_validation
from keras_mixkd.training.validation import summary_of_test_set
from keras_mixkd.training.validation import validation_epochs
from keras_mixkd.training.weights import build_model
from keras_mixkd.training.weights import check_model_file
from keras_mixkd.training.weights import check_model_name
from keras_mixkd.training.weights import check_model_source
from keras_mixkd.training.weights import keras_file_model_name


def setup_runtime(config):
    """Seeds, determinism, precision policy and strategy of ``config``.

    ``deterministic`` enables TensorFlow's op determinism for the rest of
    the process.

    Returns:
        The `tf.distribute.Strategy` to build and train under.
    """
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(
        PRECISION_POLICIES[config.mixed_precision])
    if config.strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if config.strategy == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "`strategy=multiworker` needs the TF_CONFIG environment "
                "variable describing the cluster (see docs/distributed.md).")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) == 1:
        # Its distributed iterator prefetches each batch onto the GPU.
        return tf.distribute.OneDeviceStrategy(gpus[0].name)
    return tf.distribute.get_strategy()


def restores_precision_policy(function):
    """Decorates an engine entry point so that the caller's global precision
    policy is restored when it returns or raises.

    `setup_runtime` sets Keras's global policy to the run's (Keras has no
    scoped policy); without this, a model the caller builds after
    ``distill(config)`` with ``mixed_precision="bfloat16"`` would silently
    be bfloat16 too. Models the run built keep their own policy.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        policy = keras.mixed_precision.global_policy()
        try:
            return function(*args, **kwargs)
        finally:
            keras.mixed_precision.set_global_policy(policy)

    return wrapper


def is_chief(strategy):
    """Whether this process writes the run folder (always, but for workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type in ("chief", "master") or (
        resolver.task_type == "worker" and resolver.task_id == 0)


def dataset_info(config):
    """The `keras_mixkd.data.DatasetInfo` of ``config.dataset``."""
    return data.dataset_info(config.dataset, config.data_dir,
                             image_size=config.image_size,
                             train_size=config.data_subset()[0],
                             channels=config.channels)


def load_data(config, strategy):
    """The dataset pipelines batched by the global batch sizes (training;
    validation and test: `RuntimeConfig.resolved_eval_batch_size`; the
    training subset and held-out split: `RuntimeConfig.data_subset`).

    Returns:
        A `keras_mixkd.data.Splits` ``(train, validation, test, info)``,
        ``validation`` the held-out images or None.

    Raises:
        ValueError: naming ``--dataset`` (a `keras_mixkd.data.DatasetError`
            as it is: it names the file or folder and the fix), or a
            dataset without training examples.
    """
    batch = data.global_batch_size(config.batch_size, strategy)
    eval_batch = data.global_batch_size(config.resolved_eval_batch_size(),
                                        strategy)
    train_size, validation_split = config.data_subset()
    try:
        splits = data.load_splits(
            config.dataset, batch_size=batch, eval_batch_size=eval_batch,
            data_dir=config.data_dir,
            seed=config.seed, image_size=config.image_size,
            train_size=train_size, channels=config.channels,
            validation_split=validation_split)
    except data.DatasetError:
        raise
    except Exception as e:  # tfds raises many types for a missing download
        hint = ("" if config.dataset.startswith("folder:") else
                ". Without network, use `dataset=digits` or a prepared "
                "`data_dir`")
        raise ValueError(f"Could not load `dataset={config.dataset}`: "
                         f"{e}{hint}.") from e
    if epoch_steps(splits, batch) < 1:
        raise ValueError(f"`dataset={config.dataset}` has no training "
                         "examples.")
    return splits


def epoch_steps(splits, global_batch):
    """Optimizer steps per epoch: the train pipeline's batches, or (length
    unknown) its images over the global batch, rounded up."""
    steps = steps_per_epoch(splits.train)
    if steps is None:
        steps = -(-(splits.info.num_train or 0) // global_batch)
    return steps


def optimizer_for(config, model_name, splits, strategy):
    """The paper's optimizer for the config's epochs and learning rate, and
    the data's steps per epoch and global batch."""
    batch = data.global_batch_size(config.batch_size, strategy)
    return recipe.paper_optimizer(
        model_name, epoch_steps(splits, batch), epochs=config.epochs,
        global_batch_size=batch, learning_rate=config.learning_rate,
        weight_decay=config.weight_decay)


def verbosity(config):
    """Keras ``verbose``: a progress bar on a terminal, lines otherwise."""
    if config.verbose != "auto":
        return int(config.verbose)
    return 1 if sys.stdout.isatty() else 2


def open_run(config, command, default_name, strategy):
    """The `RunFolder` of a run (a scratch folder on non-chief workers)."""
    chief = is_chief(strategy)
    path = run_path(config, default_name)
    backed_up = Backup.finished_epochs(RunFiles(path).backup_dir)
    if (config.strategy == "multiworker" and chief and backed_up
            and not config.overwrite):
        raise ValueError(
            f"{path} holds an interrupted multi-worker run ({backed_up} "
            "epochs backed up). Resuming a multi-worker run is not supported"
            " (the other workers cannot restore the chief's state): start it"
            " again with `overwrite=True` or another `output_dir`. Stop the "
            "other workers too.")
    if not chief:
        path = tempfile.mkdtemp(prefix="mixkd-worker-")
    # Every worker of a multi-worker run backs up at the same epochs.
    interval = (0 if config.strategy == "multiworker"
                else config.backup_interval_s)
    return RunFolder(path, config.record(command), chief=chief,
                     resumable=config.inert_keys(command),
                     overwrite=config.overwrite, backup_interval_s=interval)


def without_autotune(dataset):
    """``dataset`` with tf.data's autotuning off (other data as they are).

    ``fit`` makes a new iterator of its training data at each epoch, and
    of its validation data at each validation. With autotuning on,
    releasing a used iterator waits for the autotuning thread: about
    0.25-0.5 s at every other epoch on a 2-core CPU, a third of the step
    time of a 1,000-image epoch. Autotuning sets only parallelism and
    buffer sizes: the batches and their order stay the same (the cached
    pipelines of `keras_mixkd.data` keep up without it).

    Args:
        dataset: a `tf.data.Dataset`, or any other ``fit`` input.

    Returns:
        The dataset with ``autotune.enabled = False``, or the input as it
        is.
    """
    if not isinstance(dataset, tf.data.Dataset):
        return dataset
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def steps_per_epoch(dataset):
    """The batches of a finite `tf.data.Dataset` of known length, or None.

    Given to ``fit``, it spares one iterator of the data per epoch: without
    it, Keras makes an iterator at the start of each epoch and another,
    thrown away, at its end; with it, the one made at the end serves the
    next epoch (about 20 ms an epoch for a pipeline that crops and flips).

    Args:
        dataset: a `tf.data.Dataset`, or any other ``fit`` input.

    Returns:
        ``dataset.cardinality()`` when it is a positive count, else None.
    """
    if not isinstance(dataset, tf.data.Dataset):
        return None
    count = int(dataset.cardinality())
    return count if count > 0 else None


def fit(config, run, fitted, saved, train_ds, test_ds, validation_ds=None):
    """Runs ``fitted.fit`` with the run folder's callbacks, then summarises.

    Args:
        config: the `RunConfig` (epochs, validation_freq, verbosity).
        run: the `RunFolder`.
        fitted: the model whose ``fit`` runs (a model or a `Distiller`).
        saved: the model the checkpoints hold.
        train_ds: training pipeline.
        test_ds: clean test data: validates, or with ``validation_ds`` is
            only reported (``test_*`` metrics, `held_out_validation`).
        validation_ds: held-out images that then choose ``best``, or None.

    Returns:
        The summary dict (also ``summary.json``), with `summary_of_test_set`.

    Raises:
        TrainingStopped: when the loss became NaN or infinite.
    """
    train_ds, test_ds, validation_ds = (
        without_autotune(ds) for ds in (train_ds, test_ds, validation_ds))
    validation, report = held_out_validation(test_ds, validation_ds)
    fitted.fit(train_ds, validation_data=validation, shuffle=False,
               epochs=config.epochs, verbose=verbosity(config),
               steps_per_epoch=steps_per_epoch(train_ds),
               validation_freq=validation_epochs(config.epochs,
                                                 config.validation_freq),
               callbacks=[SyncReplicaStatistics(saved), *report,
                          *run.callbacks(saved)])
    run.check_finished()
    summary = run.write_summary(**summary_of_test_set(run.metrics()))
    if not run.chief:  # a worker's scratch folder: nothing to keep
        shutil.rmtree(run.path, ignore_errors=True)
    return summary


@restores_precision_policy
def train_teacher(config):
    """Trains ``config.model`` alone, with full mixup if ``mixup_alpha > 0``.

    Args:
        config: a `TeacherConfig` (or `RunConfig`) with ``model`` set.

    Returns:
        ``(model, summary)``: the trained model and the summary dict
        (``best_accuracy``, ``last_accuracy``, ``epochs``...); for a run
        finished earlier, its last checkpoint (`finished_run`).

    Raises:
        ValueError: on a bad setting, before anything is written.
        TypeError: ``config`` is another command's configuration.
    """
    config = as_config(config, TeacherConfig, "train_teacher")
    config.check_train_teacher()
    check_model_name(config.model, "model")
    alpha = config.resolved_mixup_alpha("train-teacher")
    name = ("teacher-" + run_label(config.model, config.dataset)
            + ("-mixup" if alpha else ""))
    done = finished_run(config, "train-teacher", run_path(config, name))
    if done:
        return done
    strategy = setup_runtime(config)
    splits = load_data(config, strategy)
    info = splits.info
    run = open_run(config, "train-teacher", name, strategy)
    train_ds, test_ds, validation_ds = (
        None if ds is None else data.one_hot(ds, info.num_classes)
        for ds in (splits.train, splits.test, splits.validation))
    if alpha:
        train_ds = data.mix(train_ds, mixing.get("fmu", seed=config.seed,
                                                 alpha=alpha))
    with strategy.scope():
        model = models.create(config.model, num_classes=info.num_classes,
                              input_shape=info.image_shape)
        model.compile(
            optimizer=optimizer_for(config, config.model, splits, strategy),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
            jit_compile=config.jit_compile,
            steps_per_execution=config.steps_per_execution)
    summary = fit(config, run, model, model, train_ds, test_ds,
                  validation_ds)
    print(f"{config.model} on {config.dataset}: "
          f"{accuracy_line(summary)} (run folder: {run.path})")
    return model, summary


#: The settings of the teachers after the first (names, files).
_EXTRA_FIELDS = ("extra_teachers", "extra_teacher_weights")


def _teacher_model(config, teacher, info):
    if teacher is None:
        return build_model(config.teacher, config.teacher_weights, info,
                           "teacher", "teacher_weights")
    if isinstance(teacher, keras.Model):
        return teacher
    return teacher(info)


def _distill_name(teacher, student_name, config):
    return "distill-" + run_label(teacher.name, student_name, config.dataset)


@restores_precision_policy
def distill(config, teacher=None):
    """Distils a teacher into a new ``config.student``.

    Teacher and student are each an architecture name (of the zoo or
    ``keras.applications.<Name>``, built for the data) and/or a file: a
    ``.keras`` file brings its architecture; a name and a file load the
    file's weights into the named architecture. ``student_weights``
    warm-starts the student.

    Args:
        config: a `DistillConfig` (or `RunConfig`) with
            ``teacher_weights`` (and ``teacher`` unless it is a ``.keras``
            file), and ``student`` and/or ``student_weights`` set.
        teacher: the trained teacher: None (from ``config.teacher`` and
            ``config.teacher_weights``), a `keras.Model`, or a function
            ``(dataset_info) -> keras.Model`` called under the strategy's
            scope. The teachers after it come from
            ``config.extra_teacher_weights`` (and ``extra_teachers``),
            weighted by ``config.teacher_loss_weights``.

    Returns:
        ``(student, summary)`` (for a run finished earlier, its last
        checkpoint: `finished_run`).

    Raises:
        ValueError: on a bad setting or teacher file, before any data is
            loaded or anything written.
        TypeError: ``config`` is another command's configuration.
    """
    config = as_config(config, DistillConfig, "distill")
    if teacher is None:
        if not config.teacher_weights:
            raise ValueError("Missing `teacher_weights` (the trained "
                             "teacher).")
        check_model_source(config.teacher, config.teacher_weights, "teacher",
                           "teacher_weights")
    check_model_source(config.student, config.student_weights, "student",
                       "student_weights")
    config.check_distill()
    extra_sources = config.extra_teacher_sources()
    for name, path in extra_sources:
        check_model_source(name, path, *_EXTRA_FIELDS)
    # The files last: every setting is checked before a file is opened.
    if teacher is None:
        check_model_file(config.teacher_weights, "teacher_weights")
    for _, path in extra_sources:
        check_model_file(path, _EXTRA_FIELDS[1])
    if config.student_weights:
        check_model_file(config.student_weights, "student_weights")
    if config.output_dir:
        done = finished_run(config, "distill", run_path(config, ""))
        if done:
            return done
    strategy = setup_runtime(config)
    info = dataset_info(config)
    with strategy.scope():
        teacher = _teacher_model(config, teacher, info)
        extra_teachers = [build_model(name, path, info, *_EXTRA_FIELDS)
                          for name, path in extra_sources]
    student_name = config.student or keras_file_model_name(
        config.student_weights)
    if not config.output_dir and student_name:
        done = finished_run(config, "distill", run_path(
            config, _distill_name(teacher, student_name, config)))
        if done:
            return done
    splits = load_data(config, strategy)
    info = splits.info
    with strategy.scope():
        student = build_model(config.student, config.student_weights, info,
                              "student", "student_weights")
    student_name = config.student or student.name
    terms = _feature_terms(config, student, teacher)
    run = open_run(config, "distill", _distill_name(teacher, student_name,
                                                     config), strategy)
    with strategy.scope():
        mixer = mixing.get(config.mixing, seed=config.seed,
                           alpha=config.resolved_mixup_alpha("distill"),
                           mix_fraction=config.mix_fraction,
                           sampling=config.mix_sampling)
        distiller = Distiller(
            student=student, teacher=[teacher, *extra_teachers],
            teacher_loss_weights=config.teacher_loss_weights, mixer=mixer,
            distillation_loss=config.loss, temperature=config.temperature,
            mix_mode=config.mix_mode,
            ce_weight=config.ce_weight, kd_weight=config.kd_weight,
            teacher_dtype=(None if config.teacher_dtype == "none"
                           else config.teacher_dtype),
            fold_teacher=FOLD_TEACHER[config.fold_teacher],
            feature_terms=terms)
        distiller.compile(
            optimizer=optimizer_for(config, student_name, splits, strategy),
            metrics=["accuracy"], jit_compile=config.jit_compile,
            steps_per_execution=config.steps_per_execution)
    summary = fit(config, run, distiller, student, splits.train, splits.test,
                  splits.validation)
    print(f"{teacher.name} -> {student_name} on {config.dataset}: "
          f"{accuracy_line(summary)} (run folder: {run.path})")
    return student, summary


def _feature_terms(config, student, teacher):
    """RepDistiller's feature terms of ``config.feature_loss`` for the two
    models (None without one), refused before a run folder is made when a
    model is not of the zoo."""
    if config.feature_loss == "none":
        return None
    for role, model in (("teacher", teacher), ("student", student)):
        if model.name not in models.available():
            raise ValueError(
                f"`feature_loss={config.feature_loss}` takes RepDistiller's "
                f"layers of the zoo's models, but the {role} is "
                f"{model.name!r}, not one of keras_mixkd.models.available(). "
                "From Python, keras_mixkd.FeatureTerm names any layers "
                "(docs/features.md).")
    return feature_terms.zoo_terms(config.feature_loss, student, teacher,
                                   config.feature_weight)


@restores_precision_policy
def evaluate(config):
    """Clean test accuracy and loss of ``config.weights``.

    ``config.model`` names the architecture of the weights; a ``.keras``
    file brings its own (``model`` may stay None).

    Args:
        config: an `EvaluateConfig` (or `RunConfig`).

    Returns:
        A dict with ``model``, ``weights``, ``dataset``, ``accuracy`` and
        ``loss`` (cross-entropy).
    """
    config = as_config(config, EvaluateConfig, "evaluate")
    if not config.weights:
        raise ValueError("Missing `weights`.")
    check_model_source(config.model, config.weights, "model", "weights")
    check_model_file(config.weights, "weights")
    strategy = setup_runtime(config)
    info = dataset_info(config)
    with strategy.scope():
        model = build_model(config.model, config.weights, info, "model",
                            "weights")
        model.compile(
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=config.jit_compile)
    results = model.evaluate(load_data(config, strategy).test,
                             verbose=verbosity(config), return_dict=True)
    return {"model": config.model or model.name, "weights": str(config.weights),
            "dataset": config.dataset, "accuracy": float(results["accuracy"]),
            "loss": float(results["loss"])}
