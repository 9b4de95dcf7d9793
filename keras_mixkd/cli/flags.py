"""The ``mixkd`` flags (absl): one per `RunConfig` field, same defaults.

Name lists come from the library's registries; range and consistency rules
are `RunConfig`'s. Each command lists the flags it uses (``FLAGS_USED``);
`keras_mixkd.cli.main` refuses the others by name.
"""

import dataclasses
import warnings

from absl import flags

from keras_mixkd import exporting
from keras_mixkd import losses
from keras_mixkd import mixing
from keras_mixkd import training
from keras_mixkd.training import config as config_lib

FLAGS = flags.FLAGS


_default = config_lib.default

# Data and run.
flags.DEFINE_string("dataset", _default("dataset"),
                    "Dataset, any name keras_mixkd.data.load accepts: "
                    "cifar10, cifar100, fashion_mnist, digits (bundled, "
                    "offline), folder:PATH (an image folder with train/ and "
                    "test/ class folders, or class folders split 80/20) or "
                    "tfds:NAME (a tensorflow-datasets image dataset).")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory "
                    "(or Fashion-MNIST's IDX folder).")
flags.DEFINE_string("image_size", None,
                    "Resize the images to H or H,W pixels, e.g. 16 or 40,48 "
                    "(default: the dataset's size, 32 for the padded "
                    "Fashion-MNIST).")
flags.DEFINE_integer("channels", None,
                     "Read every image as grayscale (1) or RGB (3); default: "
                     "as the data is (an image folder must then not mix "
                     "grayscale and colour files).")
flags.DEFINE_integer("train_size", None,
                     "Train on a class-stratified subset of this many "
                     "training images (the same for every --seed).")
flags.DEFINE_float("validation_split", None,
                   "train-teacher, distill: hold out this class-stratified "
                   "fraction of the training images (chosen by --seed, e.g. "
                   "0.1): the best checkpoint is chosen on it and the test "
                   "set is only reported (test_* metrics); mixkd export "
                   "--calibrate fits its temperature on it.")
flags.DEFINE_integer("epochs", _default("epochs"),
                     "Training epochs (the paper: 240).")
flags.DEFINE_integer("seeds", 1,
                     "study, compare: repeat each run with seeds --seed .. "
                     "--seed + N - 1, for means, stds and intervals.")
flags.DEFINE_integer("batch_size", _default("batch_size"),
                     "Batch size per replica (paper: 64).")
flags.DEFINE_float("learning_rate", None,
                   "Base learning rate for batch 64; default: 0.05, or 0.01 "
                   "for MobileNetV2/ShuffleV1/ShuffleV2. Scaled linearly "
                   "with the global batch.")
flags.DEFINE_float("weight_decay", _default("weight_decay"),
                   "Coupled L2 weight decay.")
flags.DEFINE_integer("seed", _default("seed"),
                     "Random seed (initialisation, data, mixing).")
flags.DEFINE_enum("strategy", _default("strategy"), config_lib.STRATEGIES,
                  "tf.distribute strategy: one device, all local GPUs, or "
                  "several machines (TF_CONFIG).")
flags.DEFINE_enum("mixed_precision", _default("mixed_precision"),
                  list(config_lib.PRECISION_POLICIES),
                  "Mixed-precision policy (losses stay float32).")
flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA.")
flags.DEFINE_integer("steps_per_execution", _default("steps_per_execution"),
                     "Training steps per call of the compiled step (fewer "
                     "host round trips on a GPU; same results).")
flags.DEFINE_bool("deterministic", False,
                  "Make TensorFlow's ops deterministic "
                  "(tf.config.experimental.enable_op_determinism): the same "
                  "--seed gives bit-identical weights on the same machine, "
                  "at some speed cost. Recorded in config.json when set.")
flags.DEFINE_string("output_dir", None,
                    "Run folder (config, metrics CSV, TensorBoard logs, best "
                    "and last checkpoints, summary). An interrupted run "
                    "resumes from it. Default: runs/<command>-<models>-<data>.")
flags.DEFINE_bool("overwrite", False,
                  "train-teacher, distill: train again from scratch in a run "
                  "folder that holds a run (finished or interrupted, of any "
                  "configuration), removing that run's own files there "
                  "(config.json, metrics.csv, summary.json, checkpoints/, "
                  "backup/, tensorboard/) and nothing else. Without it, a "
                  "finished run is not trained again. export: replace an "
                  "existing --output (and its metadata .json); without it "
                  "an existing output is refused.")
flags.DEFINE_enum("verbose", _default("verbose"), config_lib.VERBOSITIES,
                  "Keras progress output: 1 progress bar, 2 one line per "
                  "epoch, auto: 1 on a terminal, 2 otherwise.")

# Models.
_ARCHITECTURE = ("a name of keras_mixkd.models.available() or "
                 "keras.applications.<Name> (e.g. "
                 "keras.applications.MobileNetV3Small, built for the data's "
                 "shape and classes, random weights)")
flags.DEFINE_string("model", None, "Architecture (train-teacher, evaluate, "
                    f"convert): {_ARCHITECTURE}.")
flags.DEFINE_string("weights", None,
                    "evaluate: .keras file (with its architecture: --model "
                    "optional) or weights of --model (.weights.h5, official "
                    ".pth); convert: the .pth to convert; export: the .keras "
                    "model to export.")
flags.DEFINE_string("output", None, "convert: the .keras file to write; "
                    "export: the SavedModel folder or .tflite file to write.")
flags.DEFINE_integer("num_classes", None,
                     "convert: number of classes (default: from the file).")
_WEIGHTS = {
    "teacher": "the trained teacher: a .keras file (its architecture comes "
               "with it), or weights of --teacher (.weights.h5, official "
               ".pth).",
    "student": "start the student from these weights (warm start): a .keras "
               "file (its architecture comes with it), or weights of "
               "--student.",
}
for _role, _weights_help in _WEIGHTS.items():
    flags.DEFINE_string(_role, None, f"distill: {_role} architecture, "
                        f"{_ARCHITECTURE}; optional with a .keras "
                        f"--{_role}_weights.")
    flags.DEFINE_string(f"{_role}_weights", None, f"distill: {_weights_help}")

# Export.
flags.DEFINE_enum("format", None, list(exporting.FORMATS),
                  "export: a SavedModel folder or a LiteRT (.tflite) file.")
flags.DEFINE_enum("quantize", exporting.ExportConfig.quantize,
                  list(exporting.QUANTIZATIONS),
                  "export, litert: weights in float16, or weights and "
                  "activations in int8 (calibrated on training images).")
flags.DEFINE_enum("outputs", exporting.ExportConfig.outputs,
                  list(exporting.OUTPUTS),
                  "export: the model's logits, or the probabilities it was "
                  "trained to produce (see --trained_loss).")
flags.DEFINE_enum("trained_loss", None, list(exporting.TRAINING_LOSSES),
                  "export --outputs=probabilities: the loss the model was "
                  "trained with (mixstd: softmax(logits / std); the others: "
                  "softmax(logits)); read from the run folder's config.json "
                  "when there is one; required outside a run folder.")
flags.DEFINE_bool("calibrate", False,
                  "export --outputs=probabilities: fit one temperature by "
                  "NLL on held-out images (the run's --validation_split, or "
                  "--calibration_dataset; never the test set) and bake it "
                  "into the file (recorded in its .json).")
flags.DEFINE_string("calibration_dataset", None,
                    "export --calibrate: labelled images to fit the "
                    "temperature on instead of the run's held-out split, a "
                    "dataset name such as folder:PATH (all its images; not "
                    "--dataset).")
flags.DEFINE_float("trained_temperature", None,
                   "export --outputs=probabilities: the base temperature tau "
                   "a mixstd student was trained with (softmax(logits / "
                   "(tau * std))); read from the run folder's config.json "
                   "when there is one, else 1.")

# Mixup and distillation.
flags.DEFINE_float("mixup_alpha", None,
                   "Beta(a, a) parameter of the mixup. train-teacher: train "
                   "with full mixup when > 0 (default: no mixup); distill: "
                   "of --mixing (default 1.0).")
flags.DEFINE_float("beta_alpha", None, "Deprecated: use --mixup_alpha.")
flags.DEFINE_enum("preset", None, list(config_lib.PRESETS),
                  "distill: 'paper' checks the official MIX-KD settings, "
                  "the defaults (pmu, mix_fraction 0.1, official sampling, "
                  "Beta(1,1), mixstd, weights 0.1/0.9, 240 epochs, batch "
                  "64): a flag that contradicts them is an error.")
flags.DEFINE_enum("loss", _default("loss"),
                  list(dict.fromkeys([*losses.available(),
                                      *exporting.TRAINING_LOSSES])),
                  "distill: the distillation loss, e.g. mixstd (std-scaled), "
                  "kd (classic) or ls (logit standardization). export: "
                  "deprecated alias of --trained_loss.")
flags.DEFINE_enum("mixing", _default("mixing"), mixing.available(),
                  "distill: partial or full mixup (ours), keras MixUp or "
                  "CutMix, or none.")
flags.DEFINE_float("mix_fraction", _default("mix_fraction"),
                   "distill, pmu: share of each batch to mix (official "
                   "--partmixup 0.9 is 0.1).")
flags.DEFINE_enum("mix_sampling", _default("mix_sampling"),
                  mixing.SAMPLINGS,
                  "distill, pmu: official (with replacement: ~41% mixed at "
                  "batch 64) or exact sampling.")
flags.DEFINE_float("temperature", None,
                   "distill: temperature of kd (default 4), ls (default 2), "
                   "dkd (4) or dist (1); mixstd: the base temperature tau "
                   "(default 1, official), each sample's temperature being "
                   "tau * std(logits); ((K-1)/sqrt(K))/(99/10), 0.29 at 10 "
                   "classes, gives K classes CIFAR-100's sharpest target.")
flags.DEFINE_float("ce_weight", _default("ce_weight"),
                   "distill: weight of the student CE.")
flags.DEFINE_float("kd_weight", _default("kd_weight"),
                   "distill: weight of the KD term.")
flags.DEFINE_enum("teacher_dtype", _default("teacher_dtype"),
                  config_lib.TEACHER_DTYPES,
                  "distill, compare: precision of the frozen teacher's "
                  "forward pass; 'none': the student's policy. bfloat16 "
                  "under a float32 student is faster on CPUs with bfloat16 "
                  "instructions and moves the loss by about 1e-3 relative.")
flags.DEFINE_enum("fold_teacher", _default("fold_teacher"),
                  list(config_lib.FOLD_TEACHER),
                  "distill, compare: run the teacher with each BatchNorm "
                  "folded into its convolution (same logits up to "
                  "rounding): auto (when it computes below float32), on, "
                  "off.")

#: Old flag name -> the flag it stands for (they warn).
DEPRECATED = {"beta_alpha": "mixup_alpha"}

#: Flags of every command that trains or evaluates.
RUNTIME = ("dataset", "data_dir", "image_size", "channels", "batch_size",
           "seed", "strategy", "mixed_precision", "jit_compile",
           "deterministic", "output_dir", "verbose")

#: Flags of every command that trains.
TRAINING = RUNTIME + ("train_size", "epochs", "learning_rate",
                      "weight_decay", "steps_per_execution")

#: Flags of the frozen teacher's speed.
TEACHER_SPEED = ("teacher_dtype", "fold_teacher")

#: Flags of distillation.
DISTILLATION = ("mixup_alpha", "beta_alpha", "loss", "mixing",
                "mix_fraction", "mix_sampling", "temperature", "ce_weight",
                "kd_weight")


def present(name):
    """Whether a flag was given on the command line."""
    return FLAGS[name].present


def run_config(**overrides):
    """The `RunConfig` of the flags (each field from its flag).

    Deprecated flags warn (`FutureWarning`) and stand for their new name.

    Args:
        **overrides: fields the command sets itself.

    Raises:
        ValueError: from `RunConfig`'s checks, or an old flag that
            contradicts its new name.
    """
    values = {f.name: FLAGS[f.name].value
              for f in dataclasses.fields(training.RunConfig)
              if f.name in FLAGS}
    for old, new in DEPRECATED.items():
        if not present(old):
            continue
        warnings.warn(f"--{old} is deprecated; use --{new}.", FutureWarning,
                      stacklevel=2)
        if present(new) and FLAGS[new].value != FLAGS[old].value:
            raise ValueError(f"--{old} (deprecated) and --{new} differ; "
                             f"give --{new} only.")
        values[new] = FLAGS[old].value
    return training.RunConfig(**{**values, **overrides})
