"""Partial mixup (PMU) and full mixup (FMU), as in MIX-KD."""

import keras

from keras_mixkd._keras_compat import BaseImagePreprocessingLayer
from keras_mixkd.settings import MIX_FRACTION
from keras_mixkd.settings import MIXUP_ALPHA

#: ``sampling`` of partial mixup: the official code's, or exact.
SAMPLINGS = ("official", "exact")
#: Candidates per sample of the Marsaglia-Tsang gamma sampler. Each is
#: accepted with probability > 0.95, so all are rejected with p < 1e-10.
_GAMMA_CANDIDATES = 8


def _log_gamma_sample(backend, shape, alpha, seed):
    """log of Gamma(alpha, 1) draws, Marsaglia & Tsang (2000), loop-free.

    Draws a fixed number of candidates per sample and keeps the first one
    accepted, so the sampler is plain tensor algebra: it compiles under XLA,
    where TensorFlow's gamma op (behind `keras.random.beta`) does not. For
    ``alpha < 1`` it uses ``G(a) = G(a + 1) * U ** (1 / a)``, in log space so
    that small alphas never underflow.
    """
    np_ = backend.numpy
    boost = alpha < 1.0
    shape_param = alpha + 1.0 if boost else alpha
    d = shape_param - 1.0 / 3.0
    c = 1.0 / (9.0 * d) ** 0.5
    candidates = (_GAMMA_CANDIDATES, *shape)
    x = backend.random.normal(candidates, seed=seed, dtype="float32")
    u = backend.random.uniform(candidates, seed=seed, dtype="float32")
    v = (1.0 + c * x) ** 3
    safe_v = np_.maximum(v, 1e-30)
    accepted = np_.logical_and(
        v > 0, np_.log(u) < 0.5 * x * x + d - d * safe_v + d * np_.log(safe_v))
    # Index of the first accepted candidate (the mean d if none is, p < 1e-10).
    first = np_.argmax(backend.cast(accepted, "int32"), axis=0)
    picked = np_.take_along_axis(safe_v, np_.expand_dims(first, 0), axis=0)[0]
    any_accepted = np_.any(accepted, axis=0)
    log_sample = np_.log(d) + np_.where(any_accepted, np_.log(picked), 0.0)
    if boost:
        boost_u = backend.random.uniform(shape, minval=1e-37, maxval=1.0,
                                         seed=seed, dtype="float32")
        log_sample = log_sample + np_.log(boost_u) / alpha
    return log_sample


def symmetric_beta(backend, shape, alpha, seed):
    """Beta(alpha, alpha) draws as ``G1 / (G1 + G2)``, XLA-compatible.

    Args:
        backend: a backend namespace with ``numpy``, ``random`` and ``nn``
            (a preprocessing layer's ``self.backend``).
        shape: output shape.
        alpha: the Beta parameter (> 0).
        seed: a seed generator.

    Returns:
        float32 samples in [0, 1].
    """
    log_g1 = _log_gamma_sample(backend, shape, alpha, seed)
    log_g2 = _log_gamma_sample(backend, shape, alpha, seed)
    return backend.nn.sigmoid(log_g1 - log_g2)


@keras.saving.register_keras_serializable(package="keras_mixkd")
class PartialMixUp(BaseImagePreprocessingLayer):
    """Mixup of part of a batch (PMU), or of all of it (FMU), as in MIX-KD.

    For a batch of B images ``x`` and (one-hot) labels ``y``, draws two
    independent random permutations ``p1`` and ``p2`` of the batch and a
    per-sample weight ``lam_i ~ Beta(alpha, alpha)``, keeps some rows clean
    (``lam_i = 1``) and returns

        x_mix_i = lam_i * x[p1_i] + (1 - lam_i) * x[p2_i]
        y_mix_i = lam_i * y[p1_i] + (1 - lam_i) * y[p2_i]

    Which rows stay clean depends on ``sampling``:

    - ``"official"`` reproduces the MIX-KD code (``--partmixup``): it draws
      ``floor(B * (1 - mix_fraction))`` row indices uniformly *with
      replacement* and sets their ``lam`` to 1. Because of repeated draws,
      fewer rows stay clean than the help text promises: the expected mixed
      share is ``(1 - 1/B) ** floor(B * (1 - mix_fraction))``, i.e. about
      40.8% of a batch of 64 for ``mix_fraction=0.1`` (``partmixup=0.9``), not
      10%. A row may also be paired with itself (probability 1/B), which leaves
      it clean. Use it to reproduce the published numbers.
    - ``"exact"`` mixes exactly ``round(B * mix_fraction)`` rows, and pairs each
      of them with a different image (never itself): what the official help
      text describes.

    ``mix_fraction=1.0`` is full mixup (FMU) in both modes. ``0.0`` leaves
    every image clean in exact mode, but in official mode still mixes about
    ``(1 - 1/B) ** B``, 36.8%, of each batch (the with-replacement quirk);
    official mode also returns the batch in permuted order. Mixing happens on whatever
    the layer receives; in MIX-KD that is the normalised images. Labels must be
    one-hot (or soft) floats. When ``training=False`` the layer is the
    identity. Safe inside `tf.data` pipelines and inside a compiled
    ``train_step``; seeded through Keras's random API.

    Args:
        alpha: Beta distribution parameter (> 0): 1.0 in the paper (uniform
            lambda); 0.2 and 0.4 were also explored.
        mix_fraction: share of each batch to mix, in [0, 1]. 0.1 corresponds to
            the official ``--partmixup 0.9``.
        sampling: ``"official"`` or ``"exact"``, see above.
        seed: integer seed for reproducibility.
        **kwargs: base layer arguments. The layer computes in float32 unless a
            ``dtype`` is given, so mixed labels keep full precision under
            mixed-precision policies.

    Returns:
        The input dict ``{"images", "labels"}`` mixed (or the images alone when
        called on a tensor).

    Example:

    ```python
    mixer = keras_mixkd.mixing.PartialMixUp(alpha=1.0, mix_fraction=0.1)
    out = mixer({"images": images, "labels": one_hot_labels}, training=True)
    ```
    """

    def __init__(self, alpha=MIXUP_ALPHA, mix_fraction=MIX_FRACTION,
                 sampling="official", seed=None, data_format=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(data_format=data_format, **kwargs)
        check_arguments(alpha, mix_fraction, sampling)
        self.alpha = float(alpha)
        self.mix_fraction = float(mix_fraction)
        self.sampling = sampling
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        """Draws the permutations, the lambdas and the clean rows.

        Args:
            data: the batch (dict with ``"images"``, or an image tensor).
            training: unused; the transformation is drawn regardless.
            seed: optional seed generator overriding the layer's.

        Returns:
            A dict with ``"first"`` and ``"second"`` (int permutations),
            ``"mix_weight"`` (float lambdas, 1 for clean rows) and ``"mixed"``
            (bool, True where ``lam < 1``; in official mode such a row may
            still be paired with itself, with probability 1/B).
        """
        images = data["images"] if isinstance(data, dict) else data
        np_ = self.backend.numpy
        batch_size = self.backend.shape(images)[0]
        if seed is None:
            seed = self._get_seed_generator(self.backend._backend)
        rows = np_.arange(0, batch_size, dtype="int32")
        first = self.backend.random.shuffle(rows, seed=seed)
        second = self.backend.random.shuffle(rows, seed=seed)
        lam = symmetric_beta(self.backend, (batch_size,), self.alpha, seed)
        size = self.backend.cast(batch_size, "float32")
        if self.sampling == "official":
            # floor(B * partmixup) draws with replacement; the drawn rows stay
            # clean. The small offset protects floor from 64 * 0.9 = 57.599..
            num_clean = self.backend.cast(
                np_.floor(size * (1.0 - self.mix_fraction) + 1e-6), "int32")
            draws = self.backend.random.randint(
                (batch_size,), 0, batch_size, seed=seed, dtype="int32")
            valid = rows < num_clean
            hits = np_.logical_and(
                np_.expand_dims(draws, 1) == np_.expand_dims(rows, 0),
                np_.expand_dims(valid, 1))
            clean = np_.any(hits, axis=0)
        else:
            num_mixed = self.backend.cast(
                np_.round(size * self.mix_fraction), "int32")
            order = self.backend.random.shuffle(rows, seed=seed)
            clean = np_.argsort(order) >= num_mixed
            # A partner that is never the row itself: shift the first
            # permutation by a random non-zero offset.
            shift = self.backend.random.randint(
                (), 1, np_.maximum(batch_size, 2), seed=seed, dtype="int32")
            second = np_.take(first, (rows + shift) % batch_size, axis=0)
        lam = np_.where(clean, np_.ones_like(lam), lam)
        mixed = lam < 1.0
        return {"first": first, "second": second, "mix_weight": lam,
                "mixed": mixed}

    def _mix(self, values, transformation):
        np_ = self.backend.numpy
        dtype = values.dtype
        lam = self.backend.cast(transformation["mix_weight"], dtype)
        lam = np_.reshape(lam, [-1] + [1] * (len(values.shape) - 1))
        a = np_.take(values, transformation["first"], axis=0)
        b = np_.take(values, transformation["second"], axis=0)
        return lam * a + (1.0 - lam) * b

    def transform_images(self, images, transformation=None, training=True):
        if not training:
            return images
        return self._mix(self.backend.cast(images, self.compute_dtype),
                         transformation)

    def transform_labels(self, labels, transformation, training=True):
        if not training:
            return labels
        return self._mix(self.backend.cast(labels, self.compute_dtype),
                         transformation)

    def transform_bounding_boxes(self, bounding_boxes, transformation,
                                 training=True):
        raise NotImplementedError(
            "PartialMixUp mixes images and labels only (classification).")

    def transform_segmentation_masks(self, segmentation_masks, transformation,
                                     training=True):
        if not training:
            return segmentation_masks
        return self._mix(segmentation_masks, transformation)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"alpha": self.alpha, "mix_fraction": self.mix_fraction,
                  "sampling": self.sampling, "seed": self.seed}
        return {**super().get_config(), **config}


def check_arguments(alpha=MIXUP_ALPHA, mix_fraction=MIX_FRACTION,
                    sampling="official"):
    """Raises `ValueError` on a mixing argument out of range.

    The rules of `PartialMixUp` (and of the mixers `get` builds), checked
    without building a layer.
    """
    if not alpha > 0:
        raise ValueError(
            f"`alpha` must be > 0 (it parametrises Beta(alpha, alpha)), "
            f"got {alpha}. The paper uses 1.0.")
    if not 0.0 <= mix_fraction <= 1.0:
        raise ValueError(
            f"`mix_fraction` must be in [0, 1] (the share of each batch "
            f"to mix; 1.0 is full mixup), got {mix_fraction}. For the "
            "official --partmixup P use mix_fraction = 1 - P.")
    if sampling not in SAMPLINGS:
        raise ValueError(
            f"`sampling` must be one of {SAMPLINGS}, got {sampling!r}.")


def mix_batch(mixer, images, labels, sample_weight=None):
    """Mixes a batch's images, labels and (as an extra label column, so
    they follow their rows) sample weights.

    Args:
        mixer: a layer taking and returning ``{"images", "labels"}``, or
            None (the batch is returned as it is).
        images: the image batch.
        labels: float one-hot ``(batch, classes)`` labels.
        sample_weight: ``(batch,)`` weights, or None.

    Returns:
        ``(images, labels, sample_weight)``, mixed; labels as float32 and
        weights as float32 ``(batch,)`` (None stays None).

    Example:

    >>> images, labels, _ = mix_batch(get("fmu", seed=1), images, labels)
    """
    if mixer is None:
        return images, labels, sample_weight
    ops = keras.ops
    if sample_weight is not None:
        weights = ops.reshape(ops.cast(sample_weight, "float32"), (-1, 1))
        labels = ops.concatenate([labels, weights], axis=-1)
    mixed = mixer({"images": images, "labels": labels}, training=True)
    images, labels = mixed["images"], ops.cast(mixed["labels"], "float32")
    if sample_weight is not None:
        sample_weight, labels = labels[:, -1], labels[:, :-1]
    return images, labels, sample_weight


#: How a step's mixed rows enter it (`training_rows`), and the rows per
#: sample each gives: ``"replace"`` trains on the mixed batch alone,
#: ``"append"`` adds its mixed copy to the clean batch.
ROWS_PER_SAMPLE = {"replace": 1.0, "append": 2.0}
MIX_MODES = tuple(ROWS_PER_SAMPLE)


def check_mix_mode(mix_mode, mixer):
    """Raises `ValueError` for an unknown mode, or "append" without mixer."""
    if mix_mode not in MIX_MODES:
        raise ValueError(f"`mix_mode` must be one of {MIX_MODES}, got "
                         f"{mix_mode!r}.")
    if mix_mode == "append" and mixer is None:
        raise ValueError(
            "mix_mode='append' adds a mixed copy of each batch, so it needs "
            "a mixer: pass mixer='fmu' (or 'cutmix', ...), or "
            "mix_mode='replace' to train without mixing.")


def training_rows(mixer, mix_mode, images, labels, sample_weight=None):
    """The rows of a distillation step, from a clean batch of B samples.

    ``"replace"``: the mixed batch (B rows) in both loss terms.
    ``"append"``: the clean rows, then their mixed copy (2B rows) in the
    distillation term; the first B rows, with the clean labels, in the
    student's cross-entropy term.

    Args:
        mixer: the mixing layer, or None (``"replace"`` only).
        mix_mode: ``"replace"`` or ``"append"``.
        images: the clean images.
        labels: float one-hot labels of the clean images.
        sample_weight: ``(batch,)`` weights, or None.

    Returns:
        ``(images, kd_labels, kd_weights, ce_labels, ce_weights)``: the
        rows both models see, the labels and weights of every row (for a
        label-aware distillation loss and the KD term), and those of the
        rows of the cross-entropy term (the first ``len(ce_labels)``).

    Example:

    >>> rows = training_rows(get("fmu"), "append", images, labels)
    >>> rows[0].shape[0] == 2 * images.shape[0]
    True
    """
    mixed = mix_batch(mixer, images, labels, sample_weight)
    if mix_mode == "replace":
        return mixed[0], mixed[1], mixed[2], mixed[1], mixed[2]
    ops = keras.ops
    kd_weights = None
    if sample_weight is not None:
        sample_weight = ops.reshape(ops.cast(sample_weight, "float32"),
                                    (-1,))
        kd_weights = ops.concatenate([sample_weight, mixed[2]], axis=0)
    return (ops.concatenate([images, ops.cast(mixed[0], images.dtype)], 0),
            ops.concatenate([labels, mixed[1]], axis=0), kd_weights, labels,
            sample_weight)


def check_jit_compile(mixer):
    """Raises `ValueError` if XLA cannot compile ``mixer`` (a name or layer).

    Keras's `MixUp` and `CutMix` sample with TensorFlow's gamma op, which
    XLA cannot compile; the package's layers compile.
    """
    keras_layers = (keras.layers.MixUp, keras.layers.CutMix)
    if isinstance(mixer, keras_layers) or mixer in ("mixup", "cutmix"):
        name = mixer if isinstance(mixer, str) else type(mixer).__name__
        raise ValueError(
            f"{name} (Keras's layer) samples its mixing weights with "
            "TensorFlow's gamma op, which XLA cannot compile. Use "
            "keras_mixkd.mixing.PartialMixUp (\"pmu\", or \"fmu\" for full "
            "mixup), which compiles, or jit_compile=False.")


def available():
    """The mixer names `get` resolves (``"pmu_exact"`` aside: ``"pmu"`` with
    ``sampling="exact"``)."""
    return ["pmu", "fmu", "mixup", "cutmix", "none"]


def get(identifier, seed=None, alpha=MIXUP_ALPHA,
        mix_fraction=MIX_FRACTION, sampling="official"):
    """Resolves a mixer from a name, a layer, or ``None``.

    Args:
        identifier: ``"pmu"`` (partial mixup, the paper's default),
            ``"pmu_exact"`` (``sampling="exact"``), ``"fmu"`` (full mixup),
            ``"mixup"`` (`keras.layers.MixUp`, one lambda per sample and one
            permutation), ``"cutmix"`` (`keras.layers.CutMix`, ``factor``
            set to ``alpha``), ``"none"`` or ``None`` (no mixing), or any
            layer called as ``layer({"images", "labels"}, training=True)``
            that returns the same dict (Keras, KerasCV or custom).
        seed: seed for the layers built from a name.
        alpha: Beta(alpha, alpha) parameter of the layers built from a name.
        mix_fraction: share of each batch ``"pmu"`` mixes.
        sampling: ``"official"`` or ``"exact"``, for ``"pmu"``.

    Returns:
        A layer, or ``None`` for no mixing.

    Example:

    >>> mixer = keras_mixkd.mixing.get("pmu", alpha=0.4, mix_fraction=0.2)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        name = identifier.lower()
        if name == "none":
            return None
        if name in ("pmu", "pmu_exact"):
            return PartialMixUp(
                alpha, mix_fraction,
                "exact" if name == "pmu_exact" else sampling, seed=seed)
        if name == "fmu":
            return PartialMixUp(alpha, 1.0, seed=seed)
        # Mixing computes in float32 under any policy, as PartialMixUp
        # does: under mixed_bfloat16, Keras's layers fail on their float32
        # mixing weights.
        if name == "mixup":
            return keras.layers.MixUp(alpha=alpha, seed=seed, dtype="float32")
        if name == "cutmix":
            return keras.layers.CutMix(factor=alpha, seed=seed,
                                       dtype="float32")
        raise ValueError(
            f"Unknown mixer {identifier!r}. Use one of 'pmu', 'pmu_exact', "
            "'fmu', 'mixup', 'cutmix', 'none', or pass a layer.")
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"A mixer must be a name, a layer or None; got {identifier!r}.")
