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
