"""Probabilistic knowledge transfer (Passalis & Tefas, ECCV 2018), as
RepDistiller computes it.

Each sample's feature is flattened and divided by its norm plus ``1e-7``;
the cosine similarities of the batch, mapped to ``[0, 1]`` by ``(c + 1) /
2``, are normalised row by row into conditional probabilities ``P`` (the
teacher's) and ``Q`` (the student's), and the loss is the mean over the
``batch x batch`` entries of ``P * log((P + 1e-7) / (Q + 1e-7))``.
RepDistiller applies it to the pooled features (``feat[-1]``) with ``beta =
30000``.

A statistic of the whole batch: `ProbabilisticKnowledgeTransfer` returns
per-sample values, row ``i``'s mean, whose mean is the loss (a sample
weight scales its row's share; under a `tf.distribute` strategy each
replica compares the samples of its own part of the batch).
"""

import keras
from keras import ops

from keras_mixkd.losses import _features

#: The reference code's epsilon (norm, probabilities and logarithm).
PKT_EPSILON = 1e-7
#: Under the square root of a norm: an all-zero feature keeps a finite
#: gradient; its value is unchanged to far below ``PKT_EPSILON``.
_NORM_FLOOR = 1e-30


def _conditional_probabilities(feature):
    rows = _features.flatten(feature)
    norm = ops.sqrt(ops.maximum(
        ops.sum(ops.square(rows), axis=-1, keepdims=True), _NORM_FLOOR))
    rows = rows / (norm + PKT_EPSILON)
    similarity = (ops.matmul(rows, ops.transpose(rows)) + 1.0) / 2.0
    return similarity / ops.sum(similarity, axis=-1, keepdims=True)


def pkt_per_sample(teacher_feature, student_feature):
    """Per-sample share of the probabilistic knowledge transfer loss.

    Args:
        teacher_feature: the teacher's features, ``(batch, ...)``.
        student_feature: the student's features, ``(batch, ...)``, any shape.

    Returns:
        A ``(batch,)`` tensor, the row means of ``P * log((P + eps) / (Q +
        eps))``; its mean is `pkt_loss`.
    """
    t, s = _features.check_pair("ProbabilisticKnowledgeTransfer",
                                teacher_feature, student_feature)
    p = _conditional_probabilities(t)
    q = _conditional_probabilities(s)
    terms = p * ops.log((p + PKT_EPSILON) / (q + PKT_EPSILON))
    return ops.mean(terms, axis=-1)


def pkt_loss(teacher_feature, student_feature):
    """Probabilistic knowledge transfer of one feature pair (RepDistiller's
    ``PKT.cosine_similarity_loss``).

    Args:
        teacher_feature: the teacher's pooled features ``(batch, d_t)``
            (maps are flattened per sample).
        student_feature: the student's, ``(batch, d_s)``; the widths may
            differ.

    Returns:
        A scalar, the mean over the ``batch x batch`` entries.

    Example:

    >>> pkt_loss(teacher_pooled, student_pooled)
    """
    return ops.mean(pkt_per_sample(teacher_feature, student_feature))


@keras.saving.register_keras_serializable(package="keras_mixkd")
class ProbabilisticKnowledgeTransfer(keras.losses.Loss):
    """Probabilistic knowledge transfer `pkt_loss` as a Keras loss.

    ``y_true`` is the teacher's feature, ``y_pred`` the student's (usually
    the pooled vectors); they may differ in every dimension but the batch.
    Returns the unweighted value; RepDistiller weighs it by ``beta =
    30000``.

    Args:
        **kwargs: `keras.losses.Loss` arguments (``reduction``, ``name``...).

    Example:

    >>> loss = ProbabilisticKnowledgeTransfer()
    >>> loss(teacher_pooled, student_pooled)
    """

    def __init__(self, name="probabilistic_knowledge_transfer", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return pkt_per_sample(y_true, y_pred)
