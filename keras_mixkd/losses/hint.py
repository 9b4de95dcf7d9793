"""FitNets' hint loss (Romero et al., ICLR 2015), as RepDistiller computes it.

RepDistiller's ``HintLoss`` is ``nn.MSELoss()`` between the student's
regressed feature (through `keras_mixkd.models.ConvRegressor`, its
``ConvReg``) and the teacher's feature: the mean of the squared differences
over every element of the batch.
"""

import keras
from keras import ops

from keras_mixkd.losses import _features


def hint_per_sample(teacher_feature, student_feature):
    """Per-sample mean squared difference of two features of the same shape.

    Args:
        teacher_feature: the teacher's features, ``(batch, ...)``.
        student_feature: the student's (regressed) features, same shape.

    Returns:
        A ``(batch,)`` tensor; its mean is `hint_loss`.
    """
    t, s = _features.check_pair(
        "HintLoss", teacher_feature, student_feature, same_shape=True,
        fix="Map the student's feature to the teacher's shape first, with "
            "keras_mixkd.models.ConvRegressor(teacher_shape).")
    return ops.mean(ops.square(_features.flatten(s - t)), axis=-1)


def hint_loss(teacher_feature, student_feature):
    """FitNets' hint loss: ``nn.MSELoss()`` over the whole batch.

    Args:
        teacher_feature: the teacher's features, ``(batch, ...)``.
        student_feature: the student's (regressed) features, same shape.

    Returns:
        A scalar, the mean of the squared differences.

    Example:

    >>> hint_loss(teacher_feature, regressor(student_feature))
    """
    return ops.mean(hint_per_sample(teacher_feature, student_feature))


@keras.saving.register_keras_serializable(package="keras_mixkd")
class HintLoss(keras.losses.Loss):
    """FitNets' hint loss `hint_loss` as a Keras loss.

    ``y_true`` is the teacher's feature, ``y_pred`` the student's feature
    after the connector (`keras_mixkd.models.ConvRegressor`), of the same
    shape. Returns the unweighted value; RepDistiller weighs it by
    ``beta = 100``.

    Args:
        **kwargs: `keras.losses.Loss` arguments (``reduction``, ``name``...).

    Example:

    >>> loss = HintLoss()
    >>> loss(teacher_feature, regressor(student_feature))
    """

    def __init__(self, name="hint_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return hint_per_sample(y_true, y_pred)
