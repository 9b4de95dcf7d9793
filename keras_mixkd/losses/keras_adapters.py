"""keras_mixkd's losses as `keras.distillation` distillation losses.

For users who already chose Keras's own `keras.distillation.Distiller`
(Keras >= 3.12): each class is a `keras.distillation.DistillationLoss` that
computes one of `keras_mixkd.losses` on the teacher's and the student's final
logits, as a batch mean. Keras's Distiller adds
``student_loss_weight * student_loss + (1 - student_loss_weight) *
distillation_loss``, so the paper's MIXSTD objective (0.1 std-scaled CE + 0.9
std-scaled KD) is ``student_loss_weight=0.1`` with `MixStdDistillationLoss`
and ``loss=keras_mixkd.losses.StdCrossEntropy()`` at compile time.

Keras's Distiller mixes no images, calls the teacher during evaluation, and
passes no labels to the distillation loss; `keras_mixkd.Distiller` does what
the paper does (partial mixup while distilling, evaluation on the student
alone). Keras's own ``LogitsDistillation`` default, KL on temperature-scaled
logits rather than probabilities, is not classic KD: use `KDDistillationLoss`.

Example:

>>> distiller = keras.distillation.Distiller(
...     teacher, student, MixStdDistillationLoss(), student_loss_weight=0.1)
>>> distiller.compile(optimizer=keras_mixkd.recipe.paper_optimizer(
...     "resnet8", steps_per_epoch=len(train)),
...     loss=keras_mixkd.losses.StdCrossEntropy())
"""

import keras
from keras import ops

from keras_mixkd.losses.kd import KDDivergence
from keras_mixkd.losses.logit_standardization import (
    LogitStandardizationDivergence)
from keras_mixkd.losses.mixstd import StdKDDivergence
from keras_mixkd.settings import KD_TEMPERATURE


class _LogitsLoss(keras.distillation.DistillationLoss):
    """A `keras_mixkd.losses` loss on the final logits, batch mean."""

    def __init__(self, loss):
        self.loss = loss

    def validate_outputs(self, teacher_outputs, student_outputs):
        super().validate_outputs(teacher_outputs, student_outputs)
        if not hasattr(teacher_outputs, "shape") or len(
                teacher_outputs.shape) != 2:
            raise ValueError(
                f"{type(self).__name__} distils one (batch, classes) logits "
                f"output; got outputs {teacher_outputs!r}. Give the teacher "
                "and the student a single logits output (no softmax).")

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        """The batch-mean loss between teacher and student logits.

        Args:
            teacher_outputs: ``(batch, classes)`` teacher logits.
            student_outputs: ``(batch, classes)`` student logits.
            **kwargs: ignored.

        Returns:
            A scalar tensor.
        """
        return ops.mean(self.loss.call(teacher_outputs, student_outputs))

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_mixkd")
class MixStdDistillationLoss(_LogitsLoss):
    """The MIXSTD KD term (`keras_mixkd.losses.std_kd_divergence`).

    ``mean_i KL(softmax(t_i / (tau std(t_i))) || softmax(s_i / (tau std(s_i))))``
    (no ``tau^2`` factor; ``tau = 1`` is the official code). Pair it with
    ``loss=keras_mixkd.losses.StdCrossEntropy(temperature=tau)`` (the same
    tau) and ``student_loss_weight=0.1`` for the paper's objective.

    Args:
        ddof: 1 (unbiased std, as the official code) or 0.
        temperature: base temperature tau > 0: each sample's temperature is
            ``tau * std(z)`` (0.29 gives 10 classes CIFAR-100's sharpest
            target, `keras_mixkd.losses.ceiling_matching_temperature`).

    Example:

    >>> keras.distillation.Distiller(teacher, student,
    ...     MixStdDistillationLoss(), student_loss_weight=0.1)
    """

    def __init__(self, ddof=1, temperature=1.0):
        super().__init__(StdKDDivergence(ddof=ddof, temperature=temperature))
        self.ddof, self.temperature = int(ddof), float(temperature)

    def get_config(self):
        return {"ddof": self.ddof, "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="keras_mixkd")
class KDDistillationLoss(_LogitsLoss):
    """Classic KD (`keras_mixkd.losses.kd_divergence`, RepDistiller's).

    ``mean_i KL(softmax(t_i / T) || softmax(s_i / T)) * T^2``. Pair it with
    ``loss=keras.losses.CategoricalCrossentropy(from_logits=True)`` and
    ``student_loss_weight=0.1`` for RepDistiller's KD objective.

    Args:
        temperature: softening temperature T > 0 (4 in RepDistiller).

    Example:

    >>> keras.distillation.Distiller(teacher, student,
    ...     KDDistillationLoss(temperature=4.0), student_loss_weight=0.1)
    """

    def __init__(self, temperature=KD_TEMPERATURE):
        super().__init__(KDDivergence(temperature=temperature))
        self.temperature = float(temperature)

    def get_config(self):
        return {"temperature": self.temperature}


@keras.saving.register_keras_serializable(package="keras_mixkd")
class LogitStandardizationDistillationLoss(_LogitsLoss):
    """Logit standardization KD (`logit_standardization_divergence`).

    ``mean_i KL(softmax(Z(t_i) / tau) || softmax(Z(s_i) / tau)) * tau^2``,
    ``Z`` the per-sample z-score (Sun et al., CVPR 2024).

    Args:
        temperature: base temperature tau > 0 (2 in Sun et al. on CIFAR).
        ddof: 1 (unbiased std) or 0.

    Example:

    >>> LogitStandardizationDistillationLoss(temperature=2.0)
    """

    def __init__(self, temperature=2.0, ddof=1):
        super().__init__(LogitStandardizationDivergence(
            temperature=temperature, ddof=ddof))
        self.temperature, self.ddof = float(temperature), int(ddof)

    def get_config(self):
        return {"temperature": self.temperature, "ddof": self.ddof}
