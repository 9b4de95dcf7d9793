"""keras_mixkd: knowledge distillation with mixup for Keras 3.

Implements and extends "Understanding the Role of Mixup in Knowledge
Distillation: An Empirical Study" (Choi et al., WACV 2023): the `Distiller`
(mixup only while distilling, teacher on the same mixed batch), partial mixup
(`mixing.PartialMixUp`), the MIXSTD adaptive-temperature losses, classic KD
and the DKD and DIST baselines (`losses`), the RepDistiller CIFAR model
zoo (`models`), and the training engine behind the ``mixkd`` command
(`training`: `RunConfig`, `train_teacher`, `distill`).
"""

from keras_mixkd import analysis
from keras_mixkd import data
from keras_mixkd import experiments
from keras_mixkd import exporting
from keras_mixkd import losses
from keras_mixkd import mixing
from keras_mixkd import models
from keras_mixkd import recipe
from keras_mixkd import training
from keras_mixkd.distiller import Distiller
from keras_mixkd.exporting import export
from keras_mixkd.losses import KDDistillationLoss
from keras_mixkd.losses import LogitStandardizationDistillationLoss
from keras_mixkd.losses import MixStdDistillationLoss
from keras_mixkd.losses import DISTLoss
from keras_mixkd.losses import DKDLoss
from keras_mixkd.losses import KDDivergence
from keras_mixkd.losses import LogitStandardizationDivergence
from keras_mixkd.losses import StdCrossEntropy
from keras_mixkd.losses import StdKDDivergence
from keras_mixkd.losses import dist_loss
from keras_mixkd.losses import dkd_loss
from keras_mixkd.losses import kd_divergence
from keras_mixkd.losses import logit_standardization_divergence
from keras_mixkd.losses import std_cross_entropy
from keras_mixkd.losses import std_kd_divergence
from keras_mixkd.mixing import PartialMixUp
from keras_mixkd.version import __version__
