"""Fidelity of a student to its teacher: top-1 agreement and KL divergence.

Accuracy says how good a student is; fidelity says how closely it imitates
its teacher, which is what distillation optimises.
"""

import numpy as np

from keras_mixkd.analysis._utils import as_2d
from keras_mixkd.analysis._utils import integer_labels
from keras_mixkd.analysis._utils import log_softmax
from keras_mixkd.analysis._utils import predict_batches


def _pair(teacher_logits, student_logits):
    teacher_logits = as_2d("teacher_logits", teacher_logits)
    student_logits = as_2d("student_logits", student_logits)
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"Teacher logits {teacher_logits.shape} and student logits "
            f"{student_logits.shape} must have the same shape.")
    return teacher_logits, student_logits


def top1_agreement(teacher_logits, student_logits):
    """Share of samples on which teacher and student predict the same class.

    Args:
        teacher_logits: ``(samples, classes)`` teacher logits (or probs).
        student_logits: ``(samples, classes)`` student logits (or probs).

    Returns:
        A float in ``[0, 1]``.

    Example:

    >>> top1_agreement(teacher_logits, student_logits)
    """
    teacher_logits, student_logits = _pair(teacher_logits, student_logits)
    return float(np.mean(teacher_logits.argmax(axis=1)
                         == student_logits.argmax(axis=1)))


def mean_kl(teacher_logits, student_logits, temperature=1.0):
    """Mean ``KL(softmax(t / T) || softmax(s / T))`` over samples, in nats.

    The teacher's distribution is the reference. No ``T^2`` factor is
    applied (unlike the classic KD loss), so values at different
    temperatures compare as divergences between distributions.

    Args:
        teacher_logits: ``(samples, classes)`` teacher logits.
        student_logits: ``(samples, classes)`` student logits.
        temperature: softening temperature T > 0.

    Returns:
        The mean KL divergence, a float >= 0.

    Example:

    >>> mean_kl(teacher_logits, student_logits, temperature=4.0)
    """
    if not temperature > 0:
        raise ValueError(f"`temperature` must be > 0, got {temperature}.")
    teacher_logits, student_logits = _pair(teacher_logits, student_logits)
    log_p = log_softmax(teacher_logits / temperature)
    log_q = log_softmax(student_logits / temperature)
    kl = np.sum(np.exp(log_p) * (log_p - log_q), axis=1)
    return float(np.mean(np.maximum(kl, 0.0)))


def model_fidelity(teacher, student, data, temperature=1.0, batch_size=256):
    """Agreement and KL between two models over a dataset.

    Both models run in inference mode over the same batches in a single
    pass, so a shuffled dataset is fine.

    Args:
        teacher: a `keras.Model` mapping images to logits.
        student: a `keras.Model` with the same inputs and classes.
        data: images (array), ``(images, labels)`` arrays, or a
            `tf.data.Dataset` of ``(images, labels)`` batches.
        temperature: temperature of `mean_kl`.
        batch_size: batch size for arrays.

    Returns:
        A dict with ``top1_agreement`` and ``mean_kl``, plus
        ``teacher_accuracy`` and ``student_accuracy`` when ``data`` has labels.

    Example:

    >>> model_fidelity(teacher, student, test_ds)["top1_agreement"]
    """
    (t_logits, s_logits), labels = predict_batches(
        [teacher, student], data, batch_size)
    result = {"top1_agreement": top1_agreement(t_logits, s_logits),
              "mean_kl": mean_kl(t_logits, s_logits, temperature)}
    if labels is not None:
        labels = integer_labels(labels, len(t_logits))
        for name, logits in (("teacher", t_logits), ("student", s_logits)):
            result[f"{name}_accuracy"] = float(
                np.mean(logits.argmax(axis=1) == labels))
    return result
