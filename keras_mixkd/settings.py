"""Every setting's name, default and choices, and the paper's values.

The one home of these facts: `keras_mixkd.training.RunConfig`, the presets,
the losses' default temperatures, the recipe, the compare methods and
``mixkd --help`` read them here. This module imports neither TensorFlow nor
Keras, so that ``mixkd --help`` stays fast and free of them; the registries
that do (`keras_mixkd.losses`, `keras_mixkd.mixing`) are checked against
`CHOICES` by the tests.

Example:

>>> from keras_mixkd import settings
>>> settings.PAPER["epochs"], settings.KD_TEMPERATURE
(240, 4.0)
"""

#: The official recipe (RepDistiller, MIX-KD): SGD with momentum 0.9 and
#: coupled weight decay 5e-4, 240 epochs, the rate times 0.1 after epochs
#: 150, 180 and 210, batch 64 per replica.
EPOCHS = 240
BATCH_SIZE = 64
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
MILESTONES = (150, 180, 210)
DECAY_FACTOR = 0.1

#: The official base learning rate (batch 64), and the lower one of the
#: architectures that train with it.
LEARNING_RATE = 0.05
LOW_LEARNING_RATE = 0.01
LOW_LEARNING_RATE_MODELS = ("MobileNetV2", "ShuffleV1", "ShuffleV2")

#: Classic KD's temperature (Hinton et al.; RepDistiller's default), also
#: that of decoupled KD.
KD_TEMPERATURE = 4.0

#: The paper's loss weights: CE on the labels and the KD term.
CE_WEIGHT = 0.1
KD_WEIGHT = 0.9

#: The paper's mixup: Beta(1, 1), partial mixup of 10%.
MIXUP_ALPHA = 1.0
MIX_FRACTION = 0.1

#: The feature losses by name (`keras_mixkd.feature_terms`), each with
#: RepDistiller's weight, its ``-b`` (beta) in
#: ``scripts/run_cifar_distill.sh``: FitNets' hint, attention transfer,
#: similarity preservation, probabilistic knowledge transfer.
FEATURE_LOSS_WEIGHTS = {"hint": 100.0, "at": 1000.0, "sp": 3000.0,
                        "pkt": 30000.0}

#: The smallest evaluation batch per replica when ``eval_batch_size`` is
#: None (the larger of it and ``batch_size``): the 10,000 test images
#: evaluate in 1.0 s at 256 against 1.65 s at 64 (resnet8, bfloat16, 2 CPU
#: cores); evaluation runs in inference mode, so accuracies do not change.
MIN_EVAL_BATCH_SIZE = 256

#: What ``preset="paper"`` fixes: the official MIX-KD settings. None: the
#: setting keeps its default (the std-scaled temperature, the official
#: learning rate).
PAPER = {"mixing": "pmu", "mix_fraction": MIX_FRACTION,
         "mix_sampling": "official", "mixup_alpha": MIXUP_ALPHA,
         "loss": "mixstd", "temperature": None, "ce_weight": CE_WEIGHT,
         "kd_weight": KD_WEIGHT, "epochs": EPOCHS, "batch_size": BATCH_SIZE,
         "learning_rate": None, "weight_decay": WEIGHT_DECAY}

#: What ``preset="patient"`` fixes: classic KD (T=4) with a fully mixed
#: copy of each batch appended as extra teacher queries, over the full
#: 240-epoch schedule: the setting that beat classic KD with an interval
#: excluding 0 on Fashion-MNIST at 240 epochs and not at 60 (RESULTS.md,
#: "The schedule ladder"); the compare method ``kd_append_mixup``.
PATIENT = {"mixing": "fmu", "mix_mode": "append", "mixup_alpha": MIXUP_ALPHA,
           "loss": "kd", "temperature": KD_TEMPERATURE,
           "ce_weight": CE_WEIGHT, "kd_weight": KD_WEIGHT, "epochs": EPOCHS,
           "batch_size": BATCH_SIZE, "learning_rate": None,
           "weight_decay": WEIGHT_DECAY}

#: The presets by name: the settings each fixes.
PRESETS = {"paper": PAPER, "patient": PATIENT}

#: The settings with a fixed set of values -> those values (the first is
#: the default where `DEFAULTS` has one).
CHOICES = {
    "strategy": ("default", "mirrored", "multiworker"),
    "mixed_precision": ("none", "float16", "bfloat16"),
    "verbose": ("auto", "0", "1", "2"),
    "format": ("saved_model", "litert"),
    "quantize": ("none", "float16", "int8"),
    "outputs": ("logits", "probabilities"),
    "preset": tuple(PRESETS),
    "loss": ("mixstd", "kd", "ls", "dkd", "dist", "ce"),
    "trained_loss": ("ce", "mixstd", "kd", "ls", "dkd", "dist"),
    "mixing": ("pmu", "fmu", "mixup", "cutmix", "none"),
    "mix_sampling": ("official", "exact"),
    "mix_mode": ("replace", "append"),
    "teacher_dtype": ("none", "float32", "bfloat16", "float16"),
    "fold_teacher": ("auto", "on", "off"),
    "feature_loss": ("none", *FEATURE_LOSS_WEIGHTS),
}

#: Every setting with a default -> that default (`RunConfig`'s fields and
#: the flags of the commands; a setting without one is absent).
DEFAULTS = {
    "dataset": "cifar100", "epochs": EPOCHS, "seeds": 1,
    "batch_size": BATCH_SIZE, "weight_decay": WEIGHT_DECAY, "seed": 0,
    "strategy": "default", "mixed_precision": "none", "jit_compile": False,
    "steps_per_execution": 1, "validation_freq": 1, "deterministic": False,
    "backup_interval_s": 30.0, "verbose": "auto",
    "quantize": "none", "outputs": "logits", "loss": "mixstd",
    "mixing": "pmu", "mix_fraction": MIX_FRACTION,
    "mix_sampling": "official", "mix_mode": "replace",
    "ce_weight": CE_WEIGHT, "kd_weight": KD_WEIGHT,
    "teacher_dtype": "none", "fold_teacher": "auto", "feature_loss": "none",
    "methods": ["alone", "kd", "mixkd", "mixkd_exact", "mixstd", "fmu_kd"],
    "baseline": "kd", "teachers": ["resnet32x4"], "students": ["resnet8x4"],
    "teacher_mixup": ["no", "yes"], "student_mixup": ["no", "yes"],
    "temperatures": ["1", "4", "std"], "teacher_mixup_alpha": MIXUP_ALPHA,
    "quick": False, "overwrite": False, "calibrate": False,
}
