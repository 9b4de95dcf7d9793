"""The ``mixkd`` flags (absl), shared by all commands."""

from absl import flags

from keras_mixkd import data

FLAGS = flags.FLAGS

# Data and run.
flags.DEFINE_enum("dataset", "cifar100", list(data.DATASETS),
                  "Dataset; 'digits' is bundled and works offline.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_integer("epochs", 240, "Training epochs (the paper: 240).")
flags.DEFINE_integer("batch_size", 64, "Batch size per replica (paper: 64).")
flags.DEFINE_float("learning_rate", None,
                   "Base learning rate for batch 64; default: 0.05, or 0.01 "
                   "for MobileNetV2/ShuffleV1/ShuffleV2. Scaled linearly "
                   "with the global batch.")
flags.DEFINE_float("weight_decay", 5e-4, "Coupled L2 weight decay.")
flags.DEFINE_integer("seed", 0, "Random seed (initialisation, data, mixing).")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multiworker"],
                  "tf.distribute strategy: one device, all local GPUs, or "
                  "several machines (TF_CONFIG).")
flags.DEFINE_enum("mixed_precision", "none", ["none", "float16", "bfloat16"],
                  "Mixed-precision policy (losses stay float32).")
flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA.")
flags.DEFINE_bool("deterministic", False,
                  "Make TensorFlow's ops deterministic "
                  "(tf.config.experimental.enable_op_determinism): the same "
                  "--seed gives bit-identical weights on the same machine, "
                  "at some speed cost. Recorded in config.json when set.")
flags.DEFINE_string("output_dir", None,
                    "Run folder (config, metrics CSV, TensorBoard logs, best "
                    "and last checkpoints, summary). An interrupted run "
                    "resumes from it. Default: runs/<command>-<models>-<data>.")
flags.DEFINE_enum("verbose", "auto", ["auto", "0", "1", "2"],
                  "Keras progress output: 1 progress bar, 2 one line per "
                  "epoch, auto: 1 on a terminal, 2 otherwise.")

# Models.
flags.DEFINE_string("model", None, "Architecture (train-teacher, evaluate, "
                    "convert); see keras_mixkd.models.available().")
flags.DEFINE_string("weights", None,
                    "Weights of --model (evaluate: .keras or official .pth; "
                    "convert: the .pth to convert).")
flags.DEFINE_string("output", None, "convert: the .keras file to write.")
flags.DEFINE_integer("num_classes", None,
                     "convert: number of classes (default: from the file).")
flags.DEFINE_string("teacher", None, "distill: teacher architecture.")
flags.DEFINE_string("teacher_weights", None,
                    "distill: teacher weights, .keras or official .pth.")
flags.DEFINE_string("student", None, "distill: student architecture.")

# Mixup and distillation.
flags.DEFINE_float("mixup_alpha", 0.0,
                   "train-teacher: train with full mixup, lambda ~ "
                   "Beta(a, a); 0 trains without mixup.")
flags.DEFINE_enum("preset", None, ["paper"],
                  "distill: 'paper' sets the official MIX-KD defaults exactly "
                  "(pmu, mix_fraction 0.1, official sampling, Beta(1,1), "
                  "mixstd, weights 0.1/0.9, 240 epochs, batch 64).")
flags.DEFINE_enum("loss", "mixstd", ["mixstd", "kd", "ls"],
                  "distill: MIXSTD (std-scaled), classic KD, or logit "
                  "standardization.")
flags.DEFINE_enum("mixing", "pmu", ["pmu", "fmu", "mixup", "cutmix", "none"],
                  "distill: partial or full mixup (ours), keras MixUp or "
                  "CutMix, or none.")
flags.DEFINE_float("mix_fraction", 0.1,
                   "distill, pmu: share of each batch to mix (official "
                   "--partmixup 0.9 is 0.1).")
flags.DEFINE_enum("mix_sampling", "official", ["official", "exact"],
                  "distill, pmu: official (with replacement: ~41% mixed at "
                  "batch 64) or exact sampling.")
flags.DEFINE_float("beta_alpha", 1.0, "distill: Beta(a, a) of the mixing.")
flags.DEFINE_float("temperature", None,
                   "distill: temperature of kd (default 4) or ls (default 2); "
                   "not for mixstd.")
flags.DEFINE_float("ce_weight", 0.1, "distill: weight of the student CE.")
flags.DEFINE_float("kd_weight", 0.9, "distill: weight of the KD term.")

#: Values --preset=paper fixes.
PAPER_PRESET = {"mixing": "pmu", "mix_fraction": 0.1,
                "mix_sampling": "official", "beta_alpha": 1.0,
                "loss": "mixstd", "ce_weight": 0.1, "kd_weight": 0.9,
                "epochs": 240, "batch_size": 64, "weight_decay": 5e-4}


def present(name):
    """Whether a flag was given on the command line."""
    return FLAGS[name].present


def values(names):
    """The current values of some flags, as a dict."""
    return {name: FLAGS[name].value for name in names}
