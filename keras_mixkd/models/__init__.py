"""The RepDistiller CIFAR model zoo in Keras.

`create(name)` builds any architecture of the official model dictionary as a
functional `keras.Model` whose weighted layers are named after the PyTorch
modules, so official checkpoints load by name (`load_torch_weights`).

Example:

>>> model = keras_mixkd.models.create("resnet8x4", num_classes=100)
>>> features = keras_mixkd.models.feature_model(model)  # penultimate features
>>> small = keras_mixkd.models.create("keras.applications.MobileNetV3Small",
...                                   num_classes=10, input_shape=(48, 48, 3))
>>> teacher = keras_mixkd.models.load("teacher.keras")  # with its architecture
>>> logits_model = keras_mixkd.models.without_softmax(
...     keras.applications.ResNet50(weights=None, classes=10))  # its logits
"""

# The families register their architectures on import (the registry
# imports none of them).
from keras_mixkd.models import mobilenet  # noqa: F401
from keras_mixkd.models import resnet  # noqa: F401
from keras_mixkd.models import shufflenet  # noqa: F401
from keras_mixkd.models import vgg  # noqa: F401
from keras_mixkd.models import wide_resnet  # noqa: F401
from keras_mixkd.models._registry import available
from keras_mixkd.models._registry import check_name
from keras_mixkd.models._registry import create
from keras_mixkd.models._registry import feature_model
from keras_mixkd.models.applications import load
from keras_mixkd.models.batch_norm import FusedBatchNormalization
from keras_mixkd.models.batch_norm import use_fused_batch_norm
from keras_mixkd.models.batch_norm import use_fused_kernel
from keras_mixkd.models.connector import ConvRegressor
from keras_mixkd.models.features import feature_layers
from keras_mixkd.models.features import with_features
from keras_mixkd.models.folding import fold_batch_norm
from keras_mixkd.models.logits import WithoutActivation
from keras_mixkd.models.logits import check_logits
from keras_mixkd.models.logits import without_softmax
from keras_mixkd.models.torch_import import convert_torch_checkpoint
from keras_mixkd.models.torch_import import load_torch_weights
