"""Distillation losses: classic KD, MIXSTD, logit standardization, DKD, DIST.

Each loss exists as a function returning the batch mean (the official code's
reduction, which external parity checks call) and as a serializable
`keras.losses.Loss` class returning per-sample values, so Keras applies sample
weights and its own reduction.

Convention for the KD losses: the first argument is the teacher's logits (the
"target" distribution), the second the student's logits, matching
``loss(y_true, y_pred)``.

Standard deviations default to ``ddof=1`` (``torch.std``'s unbiased estimate,
as the official code uses); ``ddof=0`` gives the population std of
``keras.ops.std``. Every std division is guarded: a constant logit row gives a
uniform distribution instead of NaN, and results on ordinary inputs are
unchanged to float64 precision.

DKD needs the batch's labels as well (``DKDLoss.requires_labels``): its
Keras loss takes ``y_true={"teacher_logits": ..., "labels": ...}``, and its
function a third argument.

Modules: `kd` (classic KD), `mixstd` (the paper's losses),
`logit_standardization` (Sun et al.), `dkd` (decoupled KD, Zhao et al.),
`dist` (DIST, Huang et al.); `get` resolves a name of `available()`;
`keras_adapters` wraps them for Keras's own `keras.distillation.Distiller`.
"""

from keras_mixkd.losses._registry import available
from keras_mixkd.losses._registry import get
from keras_mixkd.losses._registry import TRAINED_ALONE
from keras_mixkd.losses._registry import requires_labels
from keras_mixkd.losses._registry import student_loss
from keras_mixkd.losses._registry import training_losses
from keras_mixkd.losses.attention import AttentionTransfer
from keras_mixkd.losses.attention import attention_map
from keras_mixkd.losses.attention import attention_transfer_loss
from keras_mixkd.losses.attention import attention_transfer_per_sample
from keras_mixkd.losses.dist import DISTLoss
from keras_mixkd.losses.dist import dist_loss
from keras_mixkd.losses.dist import dist_per_sample
from keras_mixkd.losses.dkd import DKDLoss
from keras_mixkd.losses.dkd import dkd_loss
from keras_mixkd.losses.dkd import dkd_per_sample
from keras_mixkd.losses.hint import HintLoss
from keras_mixkd.losses.hint import hint_loss
from keras_mixkd.losses.hint import hint_per_sample
from keras_mixkd.losses.kd import KDDivergence
from keras_mixkd.losses.keras_adapters import KDDistillationLoss
from keras_mixkd.losses.keras_adapters import (
    LogitStandardizationDistillationLoss)
from keras_mixkd.losses.keras_adapters import MixStdDistillationLoss
from keras_mixkd.losses.kd import cross_entropy_per_sample
from keras_mixkd.losses.kd import kd_divergence
from keras_mixkd.losses.kd import kd_per_sample
from keras_mixkd.losses.logit_standardization import (
    LogitStandardizationDivergence)
from keras_mixkd.losses.logit_standardization import logit_standardization
from keras_mixkd.losses.logit_standardization import (
    logit_standardization_divergence)
from keras_mixkd.losses.logit_standardization import (
    logit_standardization_per_sample)
from keras_mixkd.losses.logit_standardization import standardize_logits
from keras_mixkd.losses.mixstd import StdCrossEntropy
from keras_mixkd.losses.mixstd import StdKDDivergence
from keras_mixkd.losses.mixstd import ceiling_matching_temperature
from keras_mixkd.losses.mixstd import max_z_score
from keras_mixkd.losses.mixstd import scaled_logits
from keras_mixkd.losses.mixstd import std_cross_entropy
from keras_mixkd.losses.mixstd import std_cross_entropy_per_sample
from keras_mixkd.losses.mixstd import std_kd_divergence
from keras_mixkd.losses.mixstd import std_kd_per_sample
from keras_mixkd.losses.pkt import ProbabilisticKnowledgeTransfer
from keras_mixkd.losses.pkt import pkt_loss
from keras_mixkd.losses.pkt import pkt_per_sample
from keras_mixkd.losses.similarity import SimilarityPreserving
from keras_mixkd.losses.similarity import similarity_preserving_loss
from keras_mixkd.losses.similarity import similarity_preserving_per_sample
