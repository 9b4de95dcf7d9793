"""Datasets and input pipelines.

`load(name)` returns ``(train_ds, test_ds, info)`` for the named datasets
(``cifar10``, ``cifar100``, ``digits``, ``fashion_mnist``), an image folder
(``folder:PATH``) or any tensorflow-datasets image classification dataset
(``tfds:NAME``); see ``docs/data.md``.

The train pipeline follows the RepDistiller protocol: random crop after
4-pixel zero padding (in pixel space, before normalisation), horizontal flip
(not for digits), normalisation with the training set's mean and std; the
eval pipeline only normalises.

Example:

>>> train_ds, test_ds, info = keras_mixkd.data.load("digits", batch_size=64)

`load_splits(name, validation_split=0.1)` also holds out a class-stratified
share of the training images (the ``validation`` pipeline).
"""

from keras_mixkd.data.digits import DIGITS_IMAGE_SHAPE
from keras_mixkd.data.digits import load_digits
from keras_mixkd.data.errors import DatasetError
from keras_mixkd.data.folder import CHANNELS
from keras_mixkd.data.idx import IDXFormatError
from keras_mixkd.data.idx import read_idx
from keras_mixkd.data.info import DatasetInfo
from keras_mixkd.data.pipeline import augment
from keras_mixkd.data.pipeline import global_batch_size
from keras_mixkd.data.pipeline import mix
from keras_mixkd.data.pipeline import one_hot
from keras_mixkd.data.pipeline import stratified_indices
from keras_mixkd.data.catalog import DATASETS
from keras_mixkd.data.catalog import NORMALIZATION
from keras_mixkd.data.catalog import available
from keras_mixkd.data.catalog import check_name
from keras_mixkd.data.catalog import resolved_name
from keras_mixkd.data.catalog import dataset_info
from keras_mixkd.data.catalog import Splits
from keras_mixkd.data.catalog import check_validation_split
from keras_mixkd.data.catalog import held_out_indices
from keras_mixkd.data.catalog import load
from keras_mixkd.data.catalog import load_splits
