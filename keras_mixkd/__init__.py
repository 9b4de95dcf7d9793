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

from keras_mixkd.version import __version__

#: Subpackages and modules, imported on first use (`__getattr__`), so that
#: ``import keras_mixkd.cli.main`` (``mixkd --help``) does not import
#: TensorFlow. A class registered for Keras serialization is registered once
#: its module is imported: ``keras_mixkd.Distiller`` (or any name of the
#: module) before ``keras.saving.load_model`` of a file that names it.
_SUBMODULES = (
    "analysis",
    "data",
    "experiments",
    "exporting",
    "losses",
    "mixing",
    "models",
    "recipe",
    "training",
)

#: Public name -> the module that defines it.
_EXPORTS = {
    "Distiller": "keras_mixkd.distiller",
    "export": "keras_mixkd.exporting",
    **{name: "keras_mixkd.losses" for name in (
        "KDDistillationLoss", "LogitStandardizationDistillationLoss",
        "MixStdDistillationLoss", "DISTLoss", "DKDLoss", "KDDivergence",
        "LogitStandardizationDivergence", "StdCrossEntropy",
        "StdKDDivergence", "dist_loss", "dkd_loss", "kd_divergence",
        "logit_standardization_divergence", "std_cross_entropy",
        "std_kd_divergence")},
    "PartialMixUp": "keras_mixkd.mixing",
}

__all__ = sorted((*_SUBMODULES, *_EXPORTS))


def __getattr__(name):
    """Imports a submodule or public name on first access (PEP 562)."""
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
    elif name in _EXPORTS:
        module = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = module
    return module


def __dir__():
    return sorted({*globals(), *__all__})
