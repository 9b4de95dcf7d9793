"""keras_mixkd: knowledge distillation with mixup for Keras 3.

Implements and extends "Understanding the Role of Mixup in Knowledge
Distillation: An Empirical Study" (Choi et al., WACV 2023): the `Distiller`
(mixup only while distilling, teacher on the same mixed batch), partial mixup
(`mixing.PartialMixUp`), the MIXSTD adaptive-temperature losses, classic KD
and the DKD and DIST baselines (`losses`), the RepDistiller CIFAR model
zoo (`models`), and the training engine behind the ``mixkd`` command
(`training`: `RunConfig`, `train_teacher`, `distill`).
"""

import importlib
import sys

from keras_mixkd.version import __version__

#: Subpackages and modules, imported on first use (`__getattr__`), so that
#: ``import keras_mixkd.cli.main`` (``mixkd --help``) does not import
#: TensorFlow. Keras finds the package's classes in a saved file (a
#: `Distiller`, a zoo model, a loss) once they are registered, which
#: `register_serializables` does: at ``import keras_mixkd`` when Keras or
#: TensorFlow is already imported (``import keras, keras_mixkd``), else at
#: the first use of any public name.
_SUBMODULES = (
    "analysis",
    "data",
    "experiments",
    "exporting",
    "feature_terms",
    "losses",
    "mixing",
    "models",
    "recipe",
    "settings",
    "training",
)

#: Public name -> the module that defines it.
_EXPORTS = {
    "Distiller": "keras_mixkd.distiller",
    "FeatureTerm": "keras_mixkd.feature_terms",
    "export": "keras_mixkd.exporting",
    **{name: "keras_mixkd.losses" for name in (
        "KDDistillationLoss", "LogitStandardizationDistillationLoss",
        "MixStdDistillationLoss", "DISTLoss", "DKDLoss", "KDDivergence",
        "LogitStandardizationDivergence", "StdCrossEntropy",
        "StdKDDivergence", "dist_loss", "dkd_loss", "kd_divergence",
        "logit_standardization_divergence", "std_cross_entropy",
        "std_kd_divergence")},
    "PartialMixUp": "keras_mixkd.mixing",
    "without_softmax": "keras_mixkd.models",
}

#: The modules defining every class the package registers for Keras
#: serialization (`keras.saving.register_keras_serializable`).
_SERIALIZABLE = ("keras_mixkd.distiller", "keras_mixkd.losses",
                 "keras_mixkd.mixing", "keras_mixkd.models",
                 "keras_mixkd.recipe")

__all__ = sorted((*_SUBMODULES, *_EXPORTS, "register_serializables"))


def register_serializables():
    """Registers every class of the package with Keras's serialization.

    ``keras.saving.load_model`` of a file holding a `Distiller`, a zoo
    model or one of the package's losses needs them registered. Importing
    the package does this when Keras or TensorFlow is already imported, and
    any public name does it on first use, so calling this is only needed
    after a bare ``import keras_mixkd`` that precedes ``import keras``.

    Example:

    >>> import keras_mixkd
    >>> keras_mixkd.register_serializables()
    >>> distiller = keras.saving.load_model("distiller.keras")
    """
    for module in _SERIALIZABLE:
        importlib.import_module(module)


def __getattr__(name):
    """Imports a submodule or public name on first access (PEP 562)."""
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
    elif name in _EXPORTS:
        module = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = module
    register_serializables()
    return module


def __dir__():
    return sorted({*globals(), *__all__})


if "keras" in sys.modules or "tensorflow" in sys.modules:
    register_serializables()
