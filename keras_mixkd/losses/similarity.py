"""Similarity-preserving distillation (Tung & Mori, ICCV 2019), as
RepDistiller computes it.

With each sample's feature flattened to a row of ``F`` (``batch x d``), the
batch's similarity matrix ``G = F F^T`` is L2-normalised row by row
(``F.normalize``), and the loss is the squared Frobenius distance of the
teacher's and the student's normalised matrices divided by ``batch**2``.
Only the two ``batch x batch`` matrices meet, so the features may differ in
shape and channels. RepDistiller applies it to the last stage's output
(``feat[-2]``) with ``beta = 3000``.

The loss is a statistic of the whole batch. `SimilarityPreserving` returns
per-sample values, row ``i``'s squared distance divided by ``batch``, whose
mean is the loss; a sample weight scales its row's share, and under a
`tf.distribute` strategy each replica compares the similarities within its
own part of the batch.
"""

import keras
from keras import ops

from keras_mixkd.losses import _features


def _similarity(feature):
    rows = _features.flatten(feature)
    return _features.l2_normalize(ops.matmul(rows, ops.transpose(rows)))


def similarity_preserving_per_sample(teacher_feature, student_feature):
    """Per-sample share of the similarity-preserving loss.

    Args:
        teacher_feature: the teacher's features, ``(batch, ...)``.
        student_feature: the student's features, ``(batch, ...)``, any shape.

    Returns:
        A ``(batch,)`` tensor: row ``i`` of the squared difference of the
        normalised similarity matrices, summed and divided by ``batch``; its
        mean is `similarity_preserving_loss`.
    """
    t, s = _features.check_pair("SimilarityPreserving", teacher_feature,
                                student_feature)
    difference = _similarity(t) - _similarity(s)
    batch = ops.cast(ops.shape(t)[0], t.dtype)
    return ops.sum(ops.square(difference), axis=-1) / batch


def similarity_preserving_loss(teacher_feature, student_feature):
    """Similarity-preserving loss of one feature pair (RepDistiller's
    ``Similarity.similarity_loss``).

    Args:
        teacher_feature: the teacher's features, ``(batch, ...)``.
        student_feature: the student's features, ``(batch, ...)``.

    Returns:
        A scalar.

    Example:

    >>> similarity_preserving_loss(teacher_stage3, student_stage3)
    """
    return ops.mean(
        similarity_preserving_per_sample(teacher_feature, student_feature))


@keras.saving.register_keras_serializable(package="keras_mixkd")
class SimilarityPreserving(keras.losses.Loss):
    """Similarity-preserving loss `similarity_preserving_loss` as a Keras loss.

    ``y_true`` is the teacher's feature, ``y_pred`` the student's; they may
    differ in every dimension but the batch. Returns the unweighted value;
    RepDistiller weighs it by ``beta = 3000``.

    Args:
        **kwargs: `keras.losses.Loss` arguments (``reduction``, ``name``...).

    Example:

    >>> loss = SimilarityPreserving()
    >>> loss(teacher_stage3, student_stage3)
    """

    def __init__(self, name="similarity_preserving", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return similarity_preserving_per_sample(y_true, y_pred)
