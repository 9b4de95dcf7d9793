"""`DatasetInfo`: what a model needs to know about a dataset."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    Attributes:
        name: dataset name, as given to `keras_mixkd.data.load`.
        num_classes: number of classes.
        image_shape: NHWC image shape without the batch dimension, as the
            pipelines yield it.
        mean: per-channel mean used for normalisation (pixel units in [0, 1]).
        std: per-channel std used for normalisation.
        num_train: number of training examples the train pipeline yields
            (None if unknown).
        num_test: number of test examples (None if unknown).
        class_names: the name of each class, in label order (None if
            unknown).

    Example:

    >>> info = keras_mixkd.data.dataset_info("fashion_mnist")
    >>> info.image_shape
    (32, 32, 1)
    """

    name: str
    num_classes: int
    image_shape: tuple
    mean: tuple
    std: tuple
    num_train: int = None
    num_test: int = None
    class_names: tuple = None

    @classmethod
    def for_model(cls, model, mean, std, class_names=None, name="custom"):
        """The `DatasetInfo` of one's own data, for a model trained on it.

        The image shape and the number of classes come from ``model``; the
        normalisation is the one its training data went through,
        ``(image / 255 - mean) / std`` per channel. This is what
        `keras_mixkd.export` needs for a model not trained through
        `keras_mixkd.data.load`.

        Args:
            model: a built Keras model taking ``(batch, H, W, C)`` images
                and returning one logit per class.
            mean: the per-channel mean, in pixel units in [0, 1] (one number
                for every channel, or one per channel).
            std: the per-channel standard deviation (> 0), likewise.
            class_names: the name of each class, in label order (None:
                ``"0"``, ``"1"``...).
            name: a name for the data, recorded nowhere else.

        Returns:
            A `DatasetInfo` (``num_train`` and ``num_test`` unknown).

        Raises:
            ValueError: when the model's input is not a fixed-size image,
                or the statistics or names do not fit it.

        Example:

        >>> info = DatasetInfo.for_model(student, mean=(0.49, 0.48, 0.45),
        ...                              std=(0.25, 0.24, 0.26),
        ...                              class_names=["cat", "dog", "fox"])
        >>> keras_mixkd.export(student, "out/student", info=info)
        """
        shape = getattr(model, "input_shape", None)
        if not (isinstance(shape, tuple) and len(shape) == 4
                and all(isinstance(d, int) for d in shape[1:])):
            raise ValueError(
                f"`model` takes inputs of shape {shape}: DatasetInfo.for_model "
                "needs a built model on fixed-size images, (batch, height, "
                "width, channels). Build it on keras.Input((H, W, C)), or "
                "make the DatasetInfo yourself.")
        outputs = getattr(model, "output_shape", None)
        if not (isinstance(outputs, tuple) and isinstance(outputs[-1], int)):
            raise ValueError(f"`model` has output shape {outputs}: it must "
                             "return one logit per class, (batch, classes).")
        channels, num_classes = shape[-1], outputs[-1]
        stats = {}
        for key, values in (("mean", mean), ("std", std)):
            values = tuple(float(v) for v in (
                values if isinstance(values, (list, tuple)) else [values]))
            if len(values) == 1:
                values *= channels
            if len(values) != channels:
                raise ValueError(
                    f"`{key}` has {len(values)} values but the model's images "
                    f"have {channels} channels: give one value per channel.")
            stats[key] = values
        if not all(s > 0 for s in stats["std"]):
            raise ValueError(f"`std` must be > 0, got {stats['std']}.")
        if max(abs(m) for m in stats["mean"]) > 1:
            raise ValueError(
                f"`mean` is {stats['mean']}: give it in pixel units in "
                "[0, 1] (the mean of image / 255), as the export computes "
                "(image / 255 - mean) / std.")
        if class_names is not None:
            class_names = tuple(str(c) for c in class_names)
            if len(class_names) != num_classes:
                raise ValueError(
                    f"`class_names` has {len(class_names)} names but the "
                    f"model outputs {num_classes} classes.")
        return cls(name, num_classes, tuple(shape[1:]), stats["mean"],
                   stats["std"], class_names=class_names)
