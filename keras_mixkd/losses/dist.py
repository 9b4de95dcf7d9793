"""DIST: distillation from a stronger teacher (Huang et al., NeurIPS 2022).

DIST matches relations rather than probabilities. With ``Y_s = softmax(z_s /
T)`` and ``Y_t = softmax(z_t / T)`` (``batch x classes``):

- inter-class relation: ``1 - pearson(Y_s[i, :], Y_t[i, :])`` averaged over
  the samples i (how each sample ranks the classes);
- intra-class relation: ``1 - pearson(Y_s[:, c], Y_t[:, c])`` averaged over
  the classes c (how each class's probability varies across the batch);

``loss = T^2 * (beta * inter + gamma * intra)``, with the reference code's
Pearson ``<a - mean a, b - mean b> / (|a - mean a| * |b - mean b| + 1e-8)``.
Defaults beta = gamma = 1, T = 1 (the reference code's defaults); the paper
pairs it with plain cross-entropy at weight 1.

The intra-class term is a statistic of the whole batch, not a sum over
samples. `DISTLoss` returns per-sample values ``T^2 * (beta * inter_i +
gamma * intra)``, the batch's intra term repeated on every row, so their mean
is the loss. Consequences: a sample weight scales that sample's copy of the
intra term (the correlation itself is unweighted); under a `tf.distribute`
strategy each replica computes the intra term over its own part of the
batch, and the `Distiller`'s global-batch reduction averages them, weighted
by the replicas' batch sizes (as PyTorch's DistributedDataParallel runs the
reference code); the loss is therefore not exactly the same as one replica
holding the whole batch.
"""

import keras
from keras import ops

from keras_mixkd.losses._common import _as_float
from keras_mixkd.losses._common import _check_non_negative
from keras_mixkd.losses._common import _check_positive
from keras_mixkd.losses._common import _check_teacher_logits

#: The reference code's epsilon in the Pearson denominator.
_PEARSON_EPSILON = 1e-8
#: Under the square root of a norm: keeps the gradient of a constant vector
#: (norm 0) finite; far below any squared deviation that matters.
_NORM_EPSILON = 1e-30


def _pearson(a, b, axis):
    """Pearson correlation of ``a`` and ``b`` along ``axis`` (reference form)."""
    a = a - ops.mean(a, axis=axis, keepdims=True)
    b = b - ops.mean(b, axis=axis, keepdims=True)

    def norm(x):
        return ops.sqrt(ops.sum(ops.square(x), axis=axis) + _NORM_EPSILON)

    return ops.sum(a * b, axis=axis) / (norm(a) * norm(b) + _PEARSON_EPSILON)


def _check_weights(beta, gamma, temperature):
    _check_non_negative("beta", beta)
    _check_non_negative("gamma", gamma)
    _check_positive("temperature", temperature)


def dist_per_sample(teacher_logits, student_logits, beta=1.0, gamma=1.0,
                    temperature=1.0):
    """Per-sample `dist_loss` values whose mean is the loss (see the module)."""
    _check_weights(beta, gamma, temperature)
    t = _as_float(teacher_logits)
    s = ops.cast(_as_float(student_logits), t.dtype)
    _check_teacher_logits("dist_loss", t, s, "dist")
    y_t = ops.softmax(t / temperature, axis=-1)
    y_s = ops.softmax(s / temperature, axis=-1)
    inter = 1.0 - _pearson(y_s, y_t, axis=1)
    intra = ops.mean(1.0 - _pearson(y_s, y_t, axis=0))
    return (beta * inter + gamma * intra) * temperature**2


def dist_loss(teacher_logits, student_logits, beta=1.0, gamma=1.0,
              temperature=1.0):
    """DIST: inter- plus intra-class Pearson distances of the softmaxes.

    ``T^2 * (beta * mean_i (1 - r(Y_s[i], Y_t[i])) + gamma * mean_c (1 -
    r(Y_s[:, c], Y_t[:, c])))``, ``r`` the Pearson correlation, ``Y`` the
    softmaxes at temperature T.

    Args:
        teacher_logits: ``(batch, classes)`` teacher logits.
        student_logits: ``(batch, classes)`` student logits.
        beta: weight of the inter-class term (1).
        gamma: weight of the intra-class term (1).
        temperature: softening temperature T > 0 (1).

    Returns:
        The scalar loss of the batch.

    Example:

    >>> dist_loss(teacher_logits, student_logits)
    """
    return ops.mean(dist_per_sample(teacher_logits, student_logits, beta,
                                    gamma, temperature))


@keras.saving.register_keras_serializable(package="keras_mixkd")
class DISTLoss(keras.losses.Loss):
    """DIST `dist_loss` as a Keras loss.

    ``y_true`` is the teacher's logits, ``y_pred`` the student's, of the
    same shape (anything else, e.g. the labels of a plain
    ``keras.Model.compile(loss=...)``, raises `ValueError`). The
    per-sample values carry the batch's intra-class term on every row (see
    the module docstring for what that means for sample weights and
    distribution strategies). The paper pairs it with plain cross-entropy,
    both at weight 1 (``ce_weight=1.0, kd_weight=1.0`` in the `Distiller`).

    Args:
        beta: weight of the inter-class term.
        gamma: weight of the intra-class term.
        temperature: softening temperature T > 0.
        **kwargs: `keras.losses.Loss` arguments (``reduction``, ``name``...).

    Example:

    >>> DISTLoss(beta=1.0, gamma=1.0)(teacher_logits, student_logits)
    """

    def __init__(self, beta=1.0, gamma=1.0, temperature=1.0, name="dist_loss",
                 **kwargs):
        _check_weights(beta, gamma, temperature)
        super().__init__(name=name, **kwargs)
        self.beta = float(beta)
        self.gamma = float(gamma)
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        _check_teacher_logits("DISTLoss", y_true, y_pred, "dist")
        return dist_per_sample(y_true, y_pred, self.beta, self.gamma,
                               self.temperature)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta,
                "gamma": self.gamma, "temperature": self.temperature}
