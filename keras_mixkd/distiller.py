"""The MixKD Distiller: mixup while distilling, teacher on the same mixed batch."""

import keras
import tensorflow as tf
from keras import ops

from keras_mixkd import _keras_compat
from keras_mixkd._metric_targets import categorical_metrics
from keras_mixkd import _validation
from keras_mixkd import feature_terms as feature_terms_module
from keras_mixkd.models import folding
from keras_mixkd.models import logits
from keras_mixkd import losses as losses_module
from keras_mixkd.losses._common import per_sample as _per_sample
from keras_mixkd import mixing as mixing_module
from keras_mixkd import teachers as teachers_module
from keras_mixkd.settings import CE_WEIGHT
from keras_mixkd.settings import KD_WEIGHT

_serialize = keras.saving.serialize_keras_object
_deserialize = keras.saving.deserialize_keras_object


def _uncompiled(model_config):
    """A serialized model without its own compile state.

    The Distiller trains the student with its own optimizer and never the
    teacher: a file keeps neither model's ``compile`` (else reloading one
    whose teacher was compiled warns that the teacher's optimizer variables
    do not match).
    """
    return {k: v for k, v in model_config.items() if k != "compile_config"}


def check_weights(ce_weight, kd_weight):
    """Raises `ValueError` unless both loss weights are >= 0."""
    for name, value in (("ce_weight", ce_weight), ("kd_weight", kd_weight)):
        if not value >= 0:
            raise ValueError(f"`{name}` must be >= 0, got {value}.")


@keras.saving.register_keras_serializable(package="keras_mixkd")
class Distiller(_keras_compat.LocalBatchBuild, keras.Model):
    """Knowledge distillation with mixup, as in MIX-KD (Choi et al., WACV 2023).

    Each training step one-hot encodes the labels, mixes images and labels
    with ``mixer``, runs the frozen teacher in inference mode on exactly the
    mixed batch the student sees, and updates the student on

        loss = ce_weight * student_loss(mixed_labels, student_logits)
             + kd_weight * distillation_loss(teacher_logits, student_logits)
             + sum(weight_i * feature_loss_i(teacher_feature_i,
                                             student_feature_i))

    With no other argument than the two models it is the paper's recipe as the
    official code runs it: partial mixup with the official sampling
    (``--partmixup 0.9``, Beta(1, 1)), the MIXSTD losses (logits divided by
    their own std, CE on std-scaled logits), ``ce_weight=0.1``,
    ``kd_weight=0.9``. Evaluation (`evaluate`, `predict`, `call`) uses the
    student alone on clean data. The evaluation ``loss`` (``val_loss`` in
    `fit`) is the student loss on the clean labels, the cross-entropy of
    what the student is trained to output: for MIXSTD, of its std-scaled
    logits ``softmax(z / std(z))``, so callbacks that watch ``val_loss``
    (``EarlyStopping``, ``ReduceLROnPlateau``) act on a number the student
    minimises. ``raw_ce`` (``val_raw_ce``) beside it is the plain
    cross-entropy of the raw logits (equal to ``loss`` for the losses that
    train ``softmax(z)``: kd, ls, dkd, dist).

    Training logs are running means of ``loss``, ``ce_loss`` and ``kd_loss``
    (the weighted terms; ``loss = ce_loss + kd_loss`` plus any regularisation
    losses of the student) and of the compiled metrics, measured against the
    mixed targets as the official code does (accuracy: argmax of the mixed
    labels). Losses are computed in float32 under any mixed-precision policy
    and reduced by the global batch size under `tf.distribute` strategies.
    Sample weights are mixed along with the labels.

    Args:
        student: the `keras.Model` to train (outputs logits). Keyword only,
            like ``teacher``: `keras.distillation.Distiller` takes
            ``(teacher, student)`` in the other order, so a positional call
            raises `TypeError`.
        teacher: the trained `keras.Model` (outputs logits); frozen here.
            A list of models distils from several teachers
            (`keras_mixkd.teachers`): the KD term is the weighted mean of
            each teacher's on the same (mixed) batch; `teacher` is then the
            first, `extra_teachers` the others, `teachers` all. Feature
            terms read the first.
        teacher_loss_weights: one weight per teacher (normalised to sum to
            1); None: equal. (Not the command line's ``teacher_weights``,
            a weights file.)
        mixer: ``"pmu"`` (default), ``"pmu_exact"``, ``"fmu"``, ``"mixup"``,
            ``"cutmix"``, ``None``/``"none"``, or any layer taking and
            returning ``{"images", "labels"}`` (`keras_mixkd.mixing.get`).
        distillation_loss: ``"mixstd"`` (default), ``"kd"``, ``"ls"``,
            ``"dkd"``, ``"dist"`` (`keras_mixkd.losses.available()`), or a
            `keras.losses.Loss` called as ``(teacher_logits, student_logits)``;
            one declaring ``requires_labels = True`` (DKD) is called as
            ``({"teacher_logits": ..., "labels": mixed_labels}, student_logits)``.
        student_loss: loss on ``(mixed one-hot labels, student logits)``;
            default: std-scaled CE for ``"mixstd"``, plain CE otherwise.
        ce_weight: weight of the student loss (official: 0.1).
        kd_weight: weight of the distillation loss (official: 0.9).
        temperature: temperature of ``"kd"`` (default 4), ``"ls"``
            (default 2), ``"dkd"`` (default 4) or ``"dist"`` (default 1);
            for ``"mixstd"`` the base temperature tau (default 1, the
            official code): each sample's temperature is ``tau * std(z)``
            in both the KD and the CE term, no ``tau^2`` factor (about 0.29
            gives 10 classes CIFAR-100's sharpest target,
            `keras_mixkd.losses.ceiling_matching_temperature`). An error
            with a loss object. DKD and DIST are published with
            ``ce_weight=1.0, kd_weight=1.0``.
        mix_mode: ``"replace"`` (default: the mixed batch replaces the
            clean one, as the paper and function matching do) or
            ``"append"`` (Wang et al., NeurIPS 2022: the clean batch and
            its mixed copy go through both models as one batch of 2B
            rows; the student loss is on the clean rows and their labels
            only, the distillation loss the mean over all 2B rows, so
            mixed images are trained against the teacher alone). Append
            needs a mixer.
        check_logits: refuse a teacher or student that outputs
            probabilities instead of logits (`keras_mixkd.models.logits`:
            a final softmax or sigmoid, checked here; or, for a model
            whose last layer does not tell, rows that are non-negative and
            sum to 1 on random inputs, probed here or, when the input shape
            is only known from the data, at the first `fit`). ``False``
            skips both, for a model whose logits really look like that.
        feature_terms: `keras_mixkd.feature_terms.FeatureTerm` objects (or
            their configs): each adds ``weight * loss(teacher_feature,
            student_feature)``, the outputs of a named layer of each model
            on the same (mixed) batch, averaged over the rows like the KD
            term; ``"hint"`` terms train a connector with the student
            (`Distiller.connectors`, saved with the Distiller, never part
            of the student). `keras_mixkd.feature_terms.zoo_terms` gives
            RepDistiller's layers for zoo models; docs/features.md.
        seed: seed of a mixer built from a name.
        teacher_dtype: precision of the frozen teacher's forward pass, e.g.
            ``"bfloat16"`` under a float32 student (opt-in: it moves the
            loss by bfloat16 rounding). ``None``: the teacher's own policy.
        fold_teacher: run the teacher through a copy with each BatchNorm
            folded into its convolution (`keras_mixkd.models.folding`; same
            logits up to rounding, refreshed at each `fit`). ``None``: fold
            when the teacher computes below float32 and is a functional
            model of Keras and keras_mixkd layers; ``True``/``False``: always
            (the teacher must be functional) / never.
        **kwargs: `keras.Model` arguments (``name``...).

    Example:

    ```python
    distiller = keras_mixkd.Distiller(student=student, teacher=teacher)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                      metrics=["accuracy"])
    distiller.fit(train_ds, validation_data=test_ds, epochs=240)
    ```
    """

    def __init__(self, *args, student=None, teacher=None, mixer="pmu",
                 distillation_loss="mixstd", student_loss=None,
                 ce_weight=CE_WEIGHT, kd_weight=KD_WEIGHT, temperature=None,
                 seed=None, teacher_dtype=None, fold_teacher=None,
                 check_logits=True,
                 mix_mode="replace", feature_terms=None,
                 teacher_loss_weights=None, **kwargs):
        _validation.keyword_models(args, student, teacher)
        super().__init__(**kwargs)
        if not isinstance(student, keras.Model):
            raise TypeError(
                f"`student` must be a keras.Model, got {type(student)}.")
        _validation.check_single_input(student, "student")
        all_teachers = teachers_module.as_list(teacher)
        teachers_module.check_models(student, all_teachers)
        widths = (_validation.output_width(student),
                  _validation.output_width(all_teachers[0]))
        self.teacher_loss_weights = (None if teacher_loss_weights is None
                                     else [float(w) for w in
                                           teacher_loss_weights])
        self._teacher_weights = teachers_module.normalized_weights(
            teacher_loss_weights, len(all_teachers))
        teacher = all_teachers[0]
        check_weights(ce_weight, kd_weight)
        mixer = mixing_module.get(mixer, seed=seed)
        mixing_module.check_mix_mode(mix_mode, mixer)
        self.check_logits = bool(check_logits)
        # Roles of the models still to be probed (input shape unknown).
        self.student = student
        self.teacher = teacher
        # The teachers after the first (`teachers` lists them all).
        self.extra_teachers = all_teachers[1:]
        # Probed before any model changes (a refusal leaves them as given).
        self._unprobed = tuple(
            role for role, model in self._roles().items()
            if self.check_logits and not logits.check_logits(model, role))
        for model in all_teachers:
            model.trainable = False
        self.mixer = mixer
        self.mix_mode = mix_mode
        self.distillation_loss = losses_module.get(distillation_loss,
                                                   temperature)
        if student_loss is None:
            # A named loss's own (MIXSTD: CE on std-scaled logits); plain
            # cross-entropy beside a loss object.
            student_loss = losses_module.student_loss(
                distillation_loss if isinstance(distillation_loss, str)
                else None, temperature)
        elif isinstance(student_loss, dict):
            student_loss = _deserialize(student_loss)
        self.student_loss = student_loss
        self.ce_weight = float(ce_weight)
        self.kd_weight = float(kd_weight)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.ce_loss_tracker = keras.metrics.Mean(name="ce_loss")
        self.kd_loss_tracker = keras.metrics.Mean(name="kd_loss")
        self.raw_ce_tracker = keras.metrics.Mean(name="raw_ce")
        self.feature_terms = feature_terms_module.terms_of(feature_terms)
        # The feature models (sharing the models' weights) in a plain object;
        # the connectors, trained with the student, tracked and saved here.
        self._features = feature_terms_module.FeatureModels(
            self.feature_terms, student, teacher) if self.feature_terms else None
        self.connectors = (self._features.trainable_connectors()
                           if self._features else [])
        self.feature_loss_tracker = keras.metrics.Mean(name="feature_loss")
        self._num_classes = widths[0] or widths[1]
        self.teacher_dtype = teacher_dtype
        self.fold_teacher = fold_teacher
        # The teachers' inference copies (``teacher_dtype``,
        # ``fold_teacher``): plain objects, built by `_prepare_teacher`
        # before any training.
        self._inference_copies = None
        self._teacher_prepared = False
        folding.check_options(teacher, teacher_dtype, fold_teacher)
        if student.built:
            self.built = True

    def compile(self, optimizer="sgd", metrics=None, loss=None, **kwargs):
        """Configures the student's optimizer and the metrics.

        Args:
            optimizer: optimizer of the student.
            metrics: metrics of the student's logits against the (mixed, in
                training) one-hot labels, e.g. ``["accuracy"]`` (resolved to
                categorical accuracy). Metrics always receive one-hot
                targets: sparse Keras metrics become their categorical
                equivalents, under the name asked for.
            loss: not accepted: the Distiller's losses are constructor
                arguments (``distillation_loss``, ``student_loss``).
            **kwargs: other `keras.Model.compile` arguments.
        """
        if loss is not None:
            raise ValueError(
                "Distiller.compile takes no `loss`: pass `distillation_loss`, "
                "`student_loss`, `ce_weight` and `kd_weight` to the "
                "Distiller constructor instead.")
        if kwargs.get("jit_compile") is True:
            mixing_module.check_jit_compile(self.mixer)
        metrics = categorical_metrics(metrics)
        if "weighted_metrics" in kwargs:
            kwargs["weighted_metrics"] = categorical_metrics(
                kwargs["weighted_metrics"])
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        """Recompiles a loaded Distiller (optimizer state included)."""
        config = _deserialize(config)
        config.pop("loss", None)
        config.pop("loss_weights", None)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, y=None, **kwargs):
        """`keras.Model.fit`, refusing empty training data up front.

        With ``jit_compile=True``, XLA drops the in-step assertions on the
        labels and inputs, so a `tf.data` input gets them in its pipeline
        and array inputs are checked here.

        The optimizer is built here, before the first step is traced (Keras
        does so itself only under a distribution strategy): variables
        created while tracing make TensorFlow trace the step a second time.
        """
        _validation.check_not_empty(x)
        _validation.check_rate_callbacks(self.optimizer, kwargs.get("callbacks"))
        shape = _validation.input_shape(x) if self._unprobed else None
        self._unprobed = tuple(
            role for role in self._unprobed
            if not logits.check_logits(self._roles()[role], role, shape))
        self._prepare_teacher(sync=True)
        if (self.optimizer is not None and not self.optimizer.built
                and self.student.built):
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)
        if self.jit_compile and self._num_classes:
            if isinstance(x, tf.data.Dataset):
                x = _validation.checked_dataset(x, self._num_classes)
            elif y is not None:
                _validation.one_hot_labels(y, self._num_classes)
                _validation.check_images(x, None, require_images=False)
        return super().fit(x, y, **kwargs)

    @property
    def teachers(self):
        """Every teacher: `teacher`, then `extra_teachers`."""
        return [self.teacher, *self.extra_teachers]

    def _roles(self):
        """The models by their names in messages, teachers first."""
        return {**{teachers_module.role(i): t
                   for i, t in enumerate(self.teachers)},
                "student": self.student}

    @property
    def _teacher_inference(self):
        """The first teacher's inference copy, or None (the teacher)."""
        return (self._inference_copies or [None])[0]

    def _prepare_teacher(self, sync=False):
        """Builds the teachers' inference copies once (with ``sync``, also
        copies the teachers' current weights into existing ones)."""
        if self._teacher_prepared and not sync:
            return
        self._inference_copies = teachers_module.inference_copies(
            self.teachers, self._inference_copies, self.teacher_dtype,
            self.fold_teacher, self.distribute_strategy,
            keep=[term.teacher_layer for term in self.feature_terms])
        if self._features is not None:
            self._features.set_teacher(
                self._teacher_inference.model if self._teacher_inference
                else self.teacher)
        self._teacher_prepared = True

    def make_train_function(self, force=False):
        """Keras's, after building the teacher's inference copy: every
        training path (`fit`, ``train_on_batch``) makes its train function
        here, so ``teacher_dtype`` and ``fold_teacher`` apply to all."""
        self._prepare_teacher()
        return super().make_train_function(force)

    @property
    def metrics(self):
        trackers = [self.loss_tracker, self.ce_loss_tracker,
                    self.kd_loss_tracker, self.raw_ce_tracker]
        if self.feature_terms:
            trackers.append(self.feature_loss_tracker)
        compiled = _keras_compat.compile_metrics(self)
        if compiled is not None:
            trackers.append(compiled)
        return trackers

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

    def _classes(self, images):
        if self._num_classes is None:
            shape = self.student.compute_output_shape(images.shape)
            self._num_classes = int(shape[-1])
        return self._num_classes

    def _prepare(self, x, y):
        """Validates a batch; returns the checked inputs and one-hot labels."""
        expected = (_validation.expected_shape(self.student)
                    or _validation.expected_shape(self.teacher))
        x = _validation.check_images(x, expected,
                                     require_images=self.mixer is not None)
        return x, _validation.one_hot_labels(y, self._classes(x))

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, y = self._prepare(x, y)
        x, kd_y, kd_w, y, sample_weight = mixing_module.training_rows(
            self.mixer, self.mix_mode, x, y, sample_weight)
        # A custom loop calling train_step itself: built here, on the first
        # call (eager), or on the first trace of the loop's tf.function.
        self._prepare_teacher()
        if self._features is not None:
            # The first teacher's features and logits in one forward.
            teacher_features, first_logits = self._features.teacher(
                x, training=False)
            every_logits = [teachers_module.frozen_logits(first_logits)] + (
                teachers_module.logits_of(self.extra_teachers,
                                          self._inference_copies[1:], x))
        else:
            every_logits = teachers_module.logits_of(
                self.teachers, self._inference_copies, x)
        local_size = ops.cast(ops.shape(y)[0], "float32")
        replica = tf.distribute.get_replica_context()
        num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
        global_size = local_size
        if replica is not None and num_replicas > 1:
            global_size = replica.all_reduce("sum", local_size)
        with tf.GradientTape() as tape:
            if self._features is not None:
                student_features, student_logits = self._features.student(
                    x, training=True)
            else:
                student_logits = self.student(x, training=True)
            student_logits = ops.cast(student_logits, "float32")
            clean_logits = student_logits[:ops.shape(y)[0]]
            ce = _per_sample(self.student_loss, y, clean_logits)
            # The teachers' weighted mean (one teacher: weight 1).
            kd = teachers_module.weighted_kd(
                self.distillation_loss, self._teacher_weights, every_logits,
                student_logits,
                kd_y if losses_module.requires_labels(self.distillation_loss)
                else None)
            if sample_weight is not None:
                ce = ce * sample_weight
            if kd_w is not None:
                kd = kd * kd_w
            ce_sum = self.ce_weight * ops.sum(ce)
            # The mean over every row: 2B rows per B samples in "append".
            rows = mixing_module.ROWS_PER_SAMPLE[self.mix_mode]
            kd_sum = self.kd_weight * ops.sum(kd) / rows
            feature_sum = 0.0
            if self._features is not None:
                # Like the KD term: every row, the mean over 2B in "append".
                feature_sum = sum(self._features.loss_sums(
                    teacher_features, student_features, kd_w,
                    training=True)) / rows
            regularization = ops.cast(
                ops.sum(self.student.losses), "float32") if (
                    self.student.losses) else 0.0
            loss = (ce_sum + kd_sum + feature_sum) / global_size + (
                regularization / num_replicas)
            scaled_loss = self.optimizer.scale_loss(loss)
        weights = self.student.trainable_weights + [
            w for connector in self.connectors
            for w in connector.trainable_weights]
        gradients = tape.gradient(scaled_loss, weights)
        self.optimizer.apply_gradients(zip(gradients, weights))
        self.ce_loss_tracker.update_state(ce_sum / local_size, local_size)
        self.kd_loss_tracker.update_state(kd_sum / local_size, local_size)
        if self.feature_terms:
            self.feature_loss_tracker.update_state(feature_sum / local_size,
                                                   local_size)
        self.loss_tracker.update_state(
            (ce_sum + kd_sum + feature_sum) / local_size + regularization,
            local_size)
        return self._logs(y, clean_logits, sample_weight, training=True)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, y = self._prepare(x, y)
        logits = ops.cast(self.student(x, training=False), "float32")
        loss = _per_sample(self.student_loss, y, logits)
        raw_ce = losses_module.cross_entropy_per_sample(y, logits)
        size = ops.cast(ops.shape(y)[0], "float32")
        if sample_weight is not None:
            weights = ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
            loss, raw_ce = loss * weights, raw_ce * weights
        self.loss_tracker.update_state(ops.sum(loss) / size, size)
        self.raw_ce_tracker.update_state(ops.sum(raw_ce) / size, size)
        return self._logs(y, logits, sample_weight, training=False)

    def _logs(self, y, logits, sample_weight, training):
        logs = {"loss": self.loss_tracker.result()}
        if training:
            logs["ce_loss"] = self.ce_loss_tracker.result()
            logs["kd_loss"] = self.kd_loss_tracker.result()
            if self.feature_terms:
                logs["feature_loss"] = self.feature_loss_tracker.result()
        else:
            logs["raw_ce"] = self.raw_ce_tracker.result()
        compiled = _keras_compat.compile_metrics(self)
        if compiled is not None:
            compiled.update_state(y, logits, sample_weight)
            logs.update(compiled.result())
        if _keras_compat.in_multi_worker_mode(tf.distribute.get_strategy()):
            # Keras averages multi-worker logs with reduce(axis=0), which
            # needs a dimension (keras-team/keras#20585).
            logs = {k: ops.reshape(v, (1,)) for k, v in logs.items()}
        return logs

    def get_config(self):
        config = super().get_config()
        config.update({
            "student": _uncompiled(_serialize(self.student)),
            "teacher": ([_uncompiled(_serialize(t)) for t in self.teachers]
                        if self.extra_teachers
                        else _uncompiled(_serialize(self.teacher))),
            "teacher_loss_weights": self.teacher_loss_weights,
            "mixer": None if self.mixer is None else _serialize(self.mixer),
            "distillation_loss": _serialize(self.distillation_loss),
            "student_loss": _serialize(self.student_loss),
            "ce_weight": self.ce_weight,
            "kd_weight": self.kd_weight,
            "teacher_dtype": self.teacher_dtype,
            "fold_teacher": self.fold_teacher,
            "check_logits": self.check_logits,
            "mix_mode": self.mix_mode,
            "feature_terms": [t.get_config() for t in self.feature_terms],
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("student", "teacher"):  # files of earlier versions
            if isinstance(config.get(key), dict):
                config[key] = _uncompiled(config[key])
        for key in ("student", "teacher", "mixer", "distillation_loss",
                    "student_loss"):
            if isinstance(config.get(key), dict):
                config[key] = _deserialize(config[key])
        if isinstance(config.get("teacher"), list):  # several teachers
            config["teacher"] = [_deserialize(_uncompiled(t))
                                 for t in config["teacher"]]
        return cls(**config)
