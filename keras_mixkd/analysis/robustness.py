"""Adversarial robustness: FGSM and PGD in pixel space, robustness curves.

The models of this package take *normalised* images,
``x_norm = (x_pixel - mean) / std`` per channel, while an attack budget is
meant in pixels of the original image. The attacks here therefore take the
normalised images a model receives, unnormalise them with ``mean`` and
``std``, perturb them in pixel space within the L-infinity ball of radius
``epsilon``, clip them to the valid pixel range ``[0, pixel_scale]`` and
renormalise them. ``mean``, ``std``, ``epsilon`` and ``step_size`` are all in
pixel units: for this package's pipelines (pixels in [0, 1], mean and std of
`keras_mixkd.data.NORMALIZATION`) use ``pixel_scale=1`` and for example
``epsilon=8 / 255``; for a pipeline normalising 0-255 images, pass
``pixel_scale=255``, mean and std in 0-255 units, and ``epsilon=8``.

The loss attacked is the cross-entropy of the model's logits (inference
mode) against the true labels; each step is a compiled `tf.function`.
"""

import numpy as np
import tensorflow as tf

from keras_mixkd.analysis._utils import integer_labels

_ATTACKS = ("fgsm", "pgd")

#: Clean images may unnormalise this far (times pixel_scale) outside the range.
_RANGE_TOLERANCE = 1e-2


class _Attacker:
    """A model with its normalisation and a compiled signed-gradient step."""

    def __init__(self, model, mean, std, pixel_scale, batch_size):
        self.model = model
        self.mean = np.asarray(mean, dtype="float32")
        self.std = np.asarray(std, dtype="float32")
        if np.any(self.std <= 0):
            raise ValueError(f"`std` must be > 0, got {std}.")
        if not pixel_scale > 0:
            raise ValueError(f"`pixel_scale` must be > 0, got {pixel_scale}.")
        if int(batch_size) < 1:
            raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
        self.pixel_scale = float(pixel_scale)
        self.batch_size = int(batch_size)
        self.step = tf.function(self._step, reduce_retracing=True)

    def _step(self, x, x_clean, labels, step_size, epsilon):
        """One signed-gradient ascent step, projected on the ball and range."""
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = self.model((x - self.mean) / self.std, training=False)
            loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels, tf.cast(logits, tf.float32)))
        x = x + step_size * tf.sign(tape.gradient(loss, x))
        x = tf.clip_by_value(x, x_clean - epsilon, x_clean + epsilon)
        return tf.clip_by_value(x, 0.0, self.pixel_scale)

    def to_pixels(self, images):
        pixels = np.asarray(images, dtype="float32") * self.std + self.mean
        slack = _RANGE_TOLERANCE * self.pixel_scale
        if pixels.min() < -slack or pixels.max() > self.pixel_scale + slack:
            raise ValueError(
                f"The images unnormalise to values in [{pixels.min():.3g}, "
                f"{pixels.max():.3g}], outside the pixel range [0, "
                f"{self.pixel_scale:g}]. Pass the `mean` and `std` the images "
                "were normalised with, in the units of `pixel_scale`.")
        return pixels

    def to_model(self, pixels):
        return ((np.asarray(pixels) - self.mean) / self.std).astype("float32")

    def batches(self, images, labels, epsilon, steps, step_size,
                random_start, seed):
        """Yields ``(adversarial normalised images, labels)`` per batch."""
        if not epsilon >= 0:
            raise ValueError(f"`epsilon` must be >= 0, got {epsilon}.")
        images = np.asarray(images)
        labels = integer_labels(labels, len(images))
        rng = np.random.default_rng(seed)
        eps = tf.constant(epsilon, tf.float32)
        alpha = tf.constant(step_size, tf.float32)
        for start in range(0, len(images), self.batch_size):
            batch = images[start:start + self.batch_size]
            y = labels[start:start + self.batch_size]
            if epsilon == 0:
                yield batch.astype("float32"), y
                continue
            x_clean = tf.constant(self.to_pixels(batch))
            x = x_clean
            if random_start:
                noise = rng.uniform(-epsilon, epsilon, batch.shape)
                x = tf.clip_by_value(x + noise.astype("float32"), 0.0,
                                     self.pixel_scale)
            y_tensor = tf.constant(y)
            for _ in range(steps):
                x = self.step(x, x_clean, y_tensor, alpha, eps)
            yield self.to_model(x.numpy()), y

    def accuracy(self, *attack_args):
        correct = total = 0
        for x, y in self.batches(*attack_args):
            logits = np.asarray(self.model.predict_on_batch(x))
            correct += int(np.sum(logits.argmax(axis=1) == y))
            total += len(y)
        return correct / max(total, 1)


def _pgd_config(epsilon, steps=10, step_size=None, random_start=True, seed=0):
    """``(steps, step_size, random_start, seed)`` of a PGD attack."""
    if int(steps) < 1:
        raise ValueError(f"`steps` must be >= 1, got {steps}.")
    if step_size is None:
        step_size = 2.5 * epsilon / int(steps)
    return int(steps), float(step_size), bool(random_start), seed


def _attack_config(attack, epsilon, attack_kwargs):
    """``(steps, step_size, random_start, seed)`` of a named attack."""
    attack = str(attack).lower()
    if attack == "fgsm":
        if attack_kwargs:
            raise ValueError(
                f"FGSM takes no {sorted(attack_kwargs)}; those are PGD's.")
        return 1, float(epsilon), False, None
    if attack == "pgd":
        return _pgd_config(epsilon, **attack_kwargs)
    raise ValueError(f"Unknown attack {attack!r}; use one of {_ATTACKS}.")


def _perturb(model, images, labels, epsilon, attack, mean, std, pixel_scale,
             batch_size, attack_kwargs):
    attacker = _Attacker(model, mean, std, pixel_scale, batch_size)
    config = _attack_config(attack, epsilon, attack_kwargs)
    adversarial = [x for x, _ in attacker.batches(
        images, labels, epsilon, *config)]
    return np.concatenate(adversarial)


def fgsm(model, images, labels, epsilon, mean=0.0, std=1.0, pixel_scale=1.0,
         batch_size=256):
    """Fast gradient sign method (Goodfellow et al., 2015) in pixel space.

    ``x_adv = clip(x + epsilon * sign(grad_x CE(model(norm(x)), y)), 0,
    pixel_scale)`` on the unnormalised image ``x``, returned normalised.

    Args:
        model: a `keras.Model` taking normalised images, returning logits.
        images: ``(N, H, W, C)`` normalised images (what the model takes).
        labels: ``(N,)`` integer or ``(N, classes)`` one-hot true labels.
        epsilon: L-infinity budget in pixel units (e.g. ``8 / 255``).
        mean: per-channel normalisation mean, pixel units.
        std: per-channel normalisation std, pixel units.
        pixel_scale: upper end of the valid pixel range (1 or 255).
        batch_size: images attacked at once.

    Returns:
        The adversarial images, normalised, float32, same shape as ``images``.

    Example:

    >>> x_adv = fgsm(model, x_test, y_test, 8 / 255, mean=MEAN, std=STD)
    """
    return _perturb(model, images, labels, epsilon, "fgsm", mean, std,
                    pixel_scale, batch_size, {})


def pgd(model, images, labels, epsilon, steps=10, step_size=None,
        random_start=True, mean=0.0, std=1.0, pixel_scale=1.0, seed=0,
        batch_size=256):
    """Projected gradient descent attack (Madry et al., 2018) in pixel space.

    Starts from a uniform random point of the epsilon ball (``random_start``)
    and takes ``steps`` signed-gradient steps of ``step_size``, projecting
    after each onto the L-infinity ball around the clean image and onto the
    valid pixel range.

    Args:
        model: a `keras.Model` taking normalised images, returning logits.
        images: ``(N, H, W, C)`` normalised images (what the model takes).
        labels: ``(N,)`` integer or ``(N, classes)`` one-hot true labels.
        epsilon: L-infinity budget in pixel units (e.g. ``8 / 255``).
        steps: number of gradient steps.
        step_size: step in pixel units; default ``2.5 * epsilon / steps``.
        random_start: start from a random point of the ball.
        mean: per-channel normalisation mean, pixel units.
        std: per-channel normalisation std, pixel units.
        pixel_scale: upper end of the valid pixel range (1 or 255).
        seed: seed of the random start.
        batch_size: images attacked at once.

    Returns:
        The adversarial images, normalised, float32, same shape as ``images``.

    Example:

    >>> x_adv = pgd(model, x_test, y_test, 8 / 255, mean=MEAN, std=STD)
    """
    return _perturb(model, images, labels, epsilon, "pgd", mean, std,
                    pixel_scale, batch_size,
                    {"steps": steps, "step_size": step_size,
                     "random_start": random_start, "seed": seed})


def accuracy_under_attack(model, images, labels, epsilon, attack="fgsm",
                          mean=0.0, std=1.0, pixel_scale=1.0, batch_size=256,
                          **attack_kwargs):
    """Top-1 accuracy of ``model`` on adversarial versions of ``images``.

    Args:
        model: a `keras.Model` taking normalised images, returning logits.
        images: ``(N, H, W, C)`` normalised images.
        labels: ``(N,)`` integer or ``(N, classes)`` one-hot true labels.
        epsilon: L-infinity budget in pixel units; 0 gives clean accuracy.
        attack: ``"fgsm"`` or ``"pgd"``.
        mean: per-channel normalisation mean, pixel units.
        std: per-channel normalisation std, pixel units.
        pixel_scale: upper end of the valid pixel range (1 or 255).
        batch_size: images attacked at once.
        **attack_kwargs: `pgd`'s ``steps``, ``step_size``, ``random_start``,
            ``seed``.

    Returns:
        The accuracy, a float in ``[0, 1]``.

    Example:

    >>> accuracy_under_attack(model, x, y, 4 / 255, attack="pgd", steps=20)
    """
    attacker = _Attacker(model, mean, std, pixel_scale, batch_size)
    return attacker.accuracy(images, labels, epsilon,
                             *_attack_config(attack, epsilon, attack_kwargs))


def robustness_curve(model, images, labels, epsilons, attack="fgsm",
                     mean=0.0, std=1.0, pixel_scale=1.0, batch_size=256,
                     path=None, title=None, **attack_kwargs):
    """Accuracy under attack for each of several budgets, optionally plotted.

    Args:
        model: a `keras.Model` taking normalised images, returning logits.
        images: ``(N, H, W, C)`` normalised images.
        labels: ``(N,)`` integer or ``(N, classes)`` one-hot true labels.
        epsilons: budgets in pixel units (include 0 for clean accuracy).
        attack: ``"fgsm"`` or ``"pgd"``.
        mean: per-channel normalisation mean, pixel units.
        std: per-channel normalisation std, pixel units.
        pixel_scale: upper end of the valid pixel range (1 or 255).
        batch_size: images attacked at once.
        path: where to write a PNG of the curve; None draws nothing.
        title: title of the figure (default: the attack and the model name).
        **attack_kwargs: `pgd`'s ``steps``, ``step_size``, ``random_start``,
            ``seed``. A None ``step_size`` scales with each epsilon.

    Returns:
        A dict ``{epsilon: accuracy}`` in the order of ``epsilons``.

    Example:

    >>> curve = robustness_curve(model, x, y, [0, 1 / 255, 2 / 255, 4 / 255])
    """
    attacker = _Attacker(model, mean, std, pixel_scale, batch_size)
    curve = {}
    for epsilon in epsilons:
        config = _attack_config(attack, epsilon, attack_kwargs)
        curve[float(epsilon)] = attacker.accuracy(images, labels, epsilon,
                                                  *config)
    if path is not None:
        from keras_mixkd.analysis import plots

        plots.plot_robustness_curves(
            {model.name: curve}, path,
            title=title or f"{attack.upper()} robustness of {model.name}",
            xlabel="epsilon (in 1/255 of the pixel range)",
            epsilon_scale=255.0 / pixel_scale)
    return curve
