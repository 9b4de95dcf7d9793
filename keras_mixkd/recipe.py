"""The paper's training recipe (the RepDistiller protocol) as reusable pieces.

SGD with momentum 0.9 and weight decay 5e-4 *coupled to the gradient* as in
PyTorch's ``torch.optim.SGD`` (L2 on every parameter, BatchNorm included; not
Keras's decoupled ``weight_decay``), learning rate 0.05 (0.01 for
MobileNetV2, ShuffleV1 and ShuffleV2), 240 epochs, multiplied by 0.1 after
epochs 150, 180 and 210, batch 64 per replica, learning rate scaled linearly
with the global batch.
"""

import keras
from keras import ops

from keras_mixkd import _keras_compat
# The official values live in `keras_mixkd.settings`; the recipe reads them.
from keras_mixkd.settings import BATCH_SIZE
from keras_mixkd.settings import DECAY_FACTOR
from keras_mixkd.settings import EPOCHS
from keras_mixkd.settings import LEARNING_RATE
from keras_mixkd.settings import LOW_LEARNING_RATE
from keras_mixkd.settings import LOW_LEARNING_RATE_MODELS
from keras_mixkd.settings import MILESTONES
from keras_mixkd.settings import MOMENTUM
from keras_mixkd.settings import WEIGHT_DECAY


def check_hyperparameters(learning_rate=None, weight_decay=None):
    """Raises `ValueError` on a learning rate <= 0 or a weight decay < 0
    (None: not checked)."""
    if learning_rate is not None and not learning_rate > 0:
        raise ValueError(f"The learning rate must be > 0, got "
                         f"{learning_rate}.")
    if weight_decay is not None and not weight_decay >= 0:
        raise ValueError(f"`weight_decay` must be >= 0, got {weight_decay}.")


def learning_rate_for(model_name):
    """The official base learning rate of a student architecture.

    Args:
        model_name: a `keras_mixkd.models` architecture name.

    Returns:
        0.01 for MobileNetV2, ShuffleV1 and ShuffleV2, 0.05 otherwise.
    """
    return (LOW_LEARNING_RATE if model_name in LOW_LEARNING_RATE_MODELS
            else LEARNING_RATE)


def scaled_learning_rate(base_learning_rate, global_batch_size,
                         reference_batch_size=BATCH_SIZE):
    """Linear learning-rate scaling for a larger global batch.

    Args:
        base_learning_rate: the rate for ``reference_batch_size``.
        global_batch_size: the batch summed over all replicas.
        reference_batch_size: the batch the base rate was tuned for (64).

    Returns:
        ``base_learning_rate * global_batch_size / reference_batch_size``.
    """
    return base_learning_rate * global_batch_size / reference_batch_size


def milestones_for(epochs, milestones=None):
    """Epochs after which the learning rate drops.

    Args:
        epochs: the length of the run.
        milestones: explicit epochs; default: the official 150, 180, 210 of
            240, scaled proportionally to ``epochs`` (so a short run keeps the
            shape of the schedule).

    Returns:
        A tuple of increasing epochs, each in ``(0, epochs)``.
    """
    if milestones is None:
        # Short runs may round several milestones to one epoch: keep it once.
        milestones = sorted({round(m * epochs / EPOCHS) for m in MILESTONES})
    milestones = tuple(int(m) for m in milestones)
    if list(milestones) != sorted(set(milestones)):
        raise ValueError(f"Milestones must increase strictly: {milestones}.")
    return tuple(m for m in milestones if 0 < m < epochs)


def learning_rate_schedule(base_learning_rate, steps_per_epoch, epochs=EPOCHS,
                           milestones=None, decay_factor=DECAY_FACTOR):
    """The step schedule: base rate, times ``decay_factor`` at each milestone.

    Args:
        base_learning_rate: the initial rate.
        steps_per_epoch: optimizer steps per epoch.
        epochs: run length in epochs.
        milestones: epochs of the drops (see `milestones_for`).
        decay_factor: factor applied at each milestone.

    Returns:
        A `keras.optimizers.schedules.PiecewiseConstantDecay` over steps (or
        the constant rate when no milestone falls inside the run).

    Example:

    >>> schedule = learning_rate_schedule(0.05, steps_per_epoch=782)
    """
    if int(steps_per_epoch) < 1:
        raise ValueError(
            f"`steps_per_epoch` must be >= 1, got {steps_per_epoch}.")
    epochs_at = milestones_for(epochs, milestones)
    if not epochs_at:
        return float(base_learning_rate)
    # PiecewiseConstantDecay switches when step > boundary; the first step of
    # epoch m (0-based iteration m * steps_per_epoch) must use the new rate.
    boundaries = [int(m * steps_per_epoch) - 1 for m in epochs_at]
    values = [base_learning_rate * decay_factor**i
              for i in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries,
                                                             values)


@keras.saving.register_keras_serializable(package="keras_mixkd")
class TorchSGD(keras.optimizers.SGD):
    """SGD with PyTorch's update rule: coupled L2 weight decay.

    Per variable ``p`` with gradient ``g``, exactly ``torch.optim.SGD``:

        g = g + weight_decay * p            # L2, flows through momentum
        buf = momentum * buf + g            # (nesterov: g + momentum * buf)
        p = p - learning_rate * buf

    Keras's own ``SGD(weight_decay=...)`` decays the weights decoupled from
    the gradient and keeps the learning rate inside the momentum buffer, which
    differs from the official code (most visibly after a learning-rate drop).
    Weight decay applies to every trainable variable, BatchNorm included, as
    in the official code.

    Args:
        learning_rate: a float or a schedule.
        momentum: momentum factor.
        nesterov: Nesterov momentum.
        weight_decay: L2 coefficient added to the gradient.
        **kwargs: other `keras.optimizers.Optimizer` arguments.

    Example:

    >>> optimizer = TorchSGD(learning_rate=0.05, momentum=0.9,
    ...                      weight_decay=5e-4)
    """

    def __init__(self, learning_rate=0.05, momentum=MOMENTUM, nesterov=False,
                 weight_decay=WEIGHT_DECAY, name="torch_sgd", **kwargs):
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, momentum=momentum,
                         nesterov=nesterov, name=name, **kwargs)
        check_hyperparameters(weight_decay=weight_decay)
        self.coupled_weight_decay = float(weight_decay)

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        if self.coupled_weight_decay:
            gradient = gradient + ops.cast(
                self.coupled_weight_decay, variable.dtype) * variable
        step = gradient
        if self.momentum != 0:
            buffer = self.momentums[_keras_compat.variable_index(self, variable)]
            momentum = ops.cast(self.momentum, variable.dtype)
            self.assign(buffer, momentum * buffer + gradient)
            step = gradient + momentum * buffer if self.nesterov else buffer
        self.assign_sub(variable, learning_rate * step)

    def get_config(self):
        config = super().get_config()
        config["weight_decay"] = self.coupled_weight_decay
        return config


def paper_optimizer(model_name, steps_per_epoch, epochs=EPOCHS,
                    global_batch_size=BATCH_SIZE, learning_rate=None,
                    milestones=None, weight_decay=WEIGHT_DECAY):
    """The official optimizer and schedule for training ``model_name``.

    Args:
        model_name: the architecture trained (sets the base rate).
        steps_per_epoch: optimizer steps per epoch.
        epochs: run length.
        global_batch_size: batch over all replicas (linear rate scaling
            against 64).
        learning_rate: override of the base rate (before scaling).
        milestones: epochs of the 0.1 drops (default: 150/180/210 of 240,
            scaled to ``epochs``). ``()``: no drop, a constant rate, which a
            callback that sets the rate itself needs
            (`keras.callbacks.ReduceLROnPlateau`,
            `keras.callbacks.LearningRateScheduler`): Keras lets no callback
            change a rate that follows a schedule.
        weight_decay: coupled L2 coefficient.

    Returns:
        A `TorchSGD` with the step schedule (a constant rate without
        milestones).

    Example:

    >>> optimizer = paper_optimizer("resnet8x4", steps_per_epoch=782)
    >>> # The official update at a constant rate, lowered on plateaus:
    >>> optimizer = paper_optimizer("resnet8x4", steps_per_epoch=782,
    ...                             milestones=())
    >>> callbacks = [keras.callbacks.ReduceLROnPlateau("val_loss")]
    """
    base = learning_rate_for(model_name) if learning_rate is None else (
        learning_rate)
    check_hyperparameters(learning_rate=base)
    base = scaled_learning_rate(base, global_batch_size)
    schedule = learning_rate_schedule(base, steps_per_epoch, epochs,
                                      milestones)
    return TorchSGD(learning_rate=schedule, momentum=MOMENTUM,
                    weight_decay=weight_decay)
