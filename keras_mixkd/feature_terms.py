"""Feature terms of the `Distiller`'s loss: which layers, which loss, what weight.

A `FeatureTerm` adds ``weight * loss(teacher_feature, student_feature)`` to
the Distiller's loss, the two features being the outputs of a named layer of
each model on the same (mixed) batch. Named losses are RepDistiller's:
``"hint"`` (FitNets, through a trained `keras_mixkd.models.ConvRegressor`),
``"at"`` (attention transfer), ``"sp"`` (similarity preservation) and
``"pkt"`` (probabilistic knowledge transfer), each weighted by default as in
RepDistiller's ``scripts/run_cifar_distill.sh`` (`settings.FEATURE_LOSS_WEIGHTS`).
`zoo_terms` gives RepDistiller's layers for a pair of zoo models.

`FeatureModels` is what the Distiller runs: the student's and the teacher's
feature models (sharing their weights) and the connectors, which the
Distiller tracks, trains with the student and saves.
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from keras_mixkd import losses
from keras_mixkd.losses._common import per_sample
from keras_mixkd.models.connector import ConvRegressor
from keras_mixkd.models.features import feature_layers
from keras_mixkd.models.features import with_features
from keras_mixkd.settings import FEATURE_LOSS_WEIGHTS

#: The named feature losses (their weights: `settings.FEATURE_LOSS_WEIGHTS`).
FEATURE_LOSSES = {
    "hint": losses.HintLoss,
    "at": losses.AttentionTransfer,
    "sp": losses.SimilarityPreserving,
    "pkt": losses.ProbabilisticKnowledgeTransfer,
}
#: The named losses that compare equal shapes, so train a connector.
_CONNECTED = ("hint",)


def available():
    """Names of the feature losses a `FeatureTerm` accepts.

    Returns:
        ``["hint", "at", "sp", "pkt"]``.
    """
    return list(FEATURE_LOSSES)


@dataclasses.dataclass(frozen=True)
class FeatureTerm:
    """One feature term: ``weight * loss(teacher_feature, student_feature)``.

    Args:
        teacher_layer: the name of the teacher's layer giving its feature.
        student_layer: the name of the student's layer giving its feature.
        loss: a name of `available()` or a `keras.losses.Loss` called as
            ``(teacher_feature, student_feature)``.
        weight: the term's weight; None: RepDistiller's for a named loss
            (hint 100, at 1000, sp 3000, pkt 30000); required with a loss
            object.
        connector: pass the student's feature through a trained
            `keras_mixkd.models.ConvRegressor` to the teacher's shape; None:
            for ``"hint"`` only, as RepDistiller.

    Example:

    >>> term = FeatureTerm("layer2.2.relu", "layer2.0.relu", "at")
    >>> term.weight
    1000.0
    """

    teacher_layer: str
    student_layer: str
    loss: object = "at"
    weight: float = None
    connector: bool = None

    def __post_init__(self):
        for field in ("teacher_layer", "student_layer"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value:
                raise ValueError(f"FeatureTerm's `{field}` must be a layer "
                                 f"name, got {value!r}.")
        loss = self.loss
        if isinstance(loss, dict):
            loss = keras.saving.deserialize_keras_object(loss)
        if isinstance(loss, str):
            loss = loss.lower()
            if loss not in FEATURE_LOSSES:
                raise ValueError(
                    f"Unknown feature loss {self.loss!r}. Use one of "
                    f"{available()} or pass a keras.losses.Loss.")
        elif not isinstance(loss, keras.losses.Loss):
            raise TypeError(f"FeatureTerm's `loss` must be a name of "
                            f"{available()} or a keras.losses.Loss, got "
                            f"{type(loss).__name__}.")
        weight = self.weight
        if weight is None:
            if not isinstance(loss, str):
                raise ValueError("FeatureTerm needs a `weight` with a loss "
                                 "object (a named loss has RepDistiller's).")
            weight = FEATURE_LOSS_WEIGHTS[loss]
        if not float(weight) >= 0:
            raise ValueError(f"FeatureTerm's `weight` must be >= 0, got "
                             f"{weight}.")
        connector = self.connector
        if connector is None:
            connector = loss in _CONNECTED if isinstance(loss, str) else False
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "weight", float(weight))
        object.__setattr__(self, "connector", bool(connector))

    def loss_object(self):
        """The term's `keras.losses.Loss` (a new one for a named loss)."""
        if isinstance(self.loss, str):
            return FEATURE_LOSSES[self.loss]()
        return self.loss

    def get_config(self):
        """A JSON-able dict; ``FeatureTerm(**config)`` rebuilds the term."""
        config = dataclasses.asdict(self)
        if not isinstance(self.loss, str):
            config["loss"] = keras.saving.serialize_keras_object(self.loss)
        return config


def terms_of(value):
    """A tuple of `FeatureTerm` from terms, their configs or None."""
    if value is None:
        return ()
    if isinstance(value, (FeatureTerm, dict)):
        value = [value]
    return tuple(term if isinstance(term, FeatureTerm) else FeatureTerm(
        **term) for term in value)


def zoo_terms(loss, student, teacher, weight=None):
    """RepDistiller's feature terms of one loss for a pair of zoo models.

    Attention transfer pairs every stage (``feat[1:-1]``), FitNets the
    second (``feat[2]``, its ``--hint_layer`` default), similarity
    preservation the last stage (``feat[-2]``), PKT the pooled features
    (``feat[-1]``). Both models need as many stages for ``"at"``.

    Args:
        loss: a name of `available()`.
        student: a zoo model (`keras_mixkd.models.create`).
        teacher: a zoo model.
        weight: each term's weight; None: RepDistiller's.

    Returns:
        A list of `FeatureTerm`.

    Example:

    >>> terms = zoo_terms("at", student, teacher)
    """
    if loss not in FEATURE_LOSSES:
        raise ValueError(f"Unknown feature loss {loss!r}. Use one of "
                         f"{available()}.")
    student_layers, teacher_layers = (feature_layers(student),
                                      feature_layers(teacher))
    if loss == "at":
        if len(student_layers) != len(teacher_layers):
            raise ValueError(
                f"Attention transfer pairs every stage, but the student "
                f"{student.name} has {len(student_layers) - 2} and the "
                f"teacher {teacher.name} {len(teacher_layers) - 2}. Pass "
                "FeatureTerm objects pairing the stages you choose.")
        pairs = list(zip(teacher_layers[1:-1], student_layers[1:-1]))
    else:
        index = {"hint": 2, "sp": -2, "pkt": -1}[loss]
        pairs = [(teacher_layers[index], student_layers[index])]
    return [FeatureTerm(t, s, loss, weight) for t, s in pairs]


def _shape(model, name, role):
    try:
        return tuple(model.get_layer(name).output.shape[1:])
    except ValueError:
        raise ValueError(
            f"The {role} {model.name!r} has no layer named {name!r}. Pick "
            "names from [layer.name for layer in model.layers], or "
            "keras_mixkd.models.feature_layers(model) for a zoo model.") \
            from None


class FeatureModels:
    """The feature models and connectors the `Distiller` runs (not a layer).

    Args:
        terms: the `FeatureTerm` tuple.
        student: the student model.
        teacher: the teacher model.
    """

    def __init__(self, terms, student, teacher):
        self.terms = terms
        self.losses = [term.loss_object() for term in terms]
        shapes = [(_shape(teacher, term.teacher_layer, "teacher"),
                   _shape(student, term.student_layer, "student"))
                  for term in terms]
        self.student = with_features(student,
                                     [t.student_layer for t in terms])
        self._teacher_layers = [t.teacher_layer for t in terms]
        self.teacher = None
        self._teacher_source = None
        self.connectors = []
        for index, (term, (teacher_shape, student_shape)) in enumerate(
                zip(terms, shapes)):
            connector = None
            if term.connector:
                connector = ConvRegressor(teacher_shape,
                                          name=f"connector_{index}")
                connector.build((None,) + student_shape)
                student_shape = teacher_shape
            self.connectors.append(connector)
            self._check_pair(term, index, teacher_shape, student_shape)

    def _check_pair(self, term, index, teacher_shape, student_shape):
        """Runs the term's loss once on zeros of the two shapes, so a pair it
        cannot compare is refused at construction."""
        try:
            self.losses[index](np.zeros((2,) + teacher_shape, "float32"),
                               np.zeros((2,) + student_shape, "float32"))
        except ValueError as e:
            name = term.loss if isinstance(term.loss, str) else type(
                term.loss).__name__
            raise ValueError(
                f"Feature term {index} ({name}: "
                f"teacher {term.teacher_layer!r} {teacher_shape}, student "
                f"{term.student_layer!r} {student_shape}): {e}") from None

    def trainable_connectors(self):
        """The connectors (the layers the Distiller tracks and trains)."""
        return [c for c in self.connectors if c is not None]

    def set_teacher(self, teacher):
        """Builds the teacher's feature model on ``teacher`` (the teacher or
        its inference copy) once per source."""
        if teacher is not self._teacher_source:
            self.teacher = with_features(teacher, self._teacher_layers)
            self._teacher_source = teacher

    def loss_sums(self, teacher_features, student_features, row_weights,
                  training):
        """Each term's weighted sum over the rows.

        Args:
            teacher_features: the teacher's features, one per term.
            student_features: the student's features, one per term.
            row_weights: per-row weights (mixed sample weights), or None.
            training: the connectors' BatchNorm mode.

        Returns:
            A list of float32 scalars, ``weight * sum_rows(values * w)``.
        """
        sums = []
        for term, loss, connector, teacher, student in zip(
                self.terms, self.losses, self.connectors, teacher_features,
                student_features):
            if connector is not None:
                student = connector(student, training=training)
            values = per_sample(loss, ops.stop_gradient(teacher), student)
            if row_weights is not None:
                values = values * row_weights
            sums.append(term.weight * ops.sum(values))
        return sums
