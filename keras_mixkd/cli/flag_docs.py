"""Each ``mixkd`` flag: its meaning and commands, without TensorFlow.

``mixkd --help`` and ``mixkd COMMAND --help`` are rendered from this module
and `keras_mixkd.settings` alone (neither imports TensorFlow or Keras), so
they answer at once. The absl flags of `keras_mixkd.cli.flags` take their
help text from here and their defaults and choices from the settings, as
`RunConfig` does; tests/cli/test_help.py checks the registries against
``CHOICES``.
"""

# Not ``from keras_mixkd import settings``: the package's lazy attributes
# register its Keras classes (importing TensorFlow) on first use. DEFAULTS
# (the defaults --help shows; flags without one are absent) and CHOICES (the
# values of the enum flags) are the settings', re-exported here.
from keras_mixkd.settings import CHOICES
from keras_mixkd.settings import DEFAULTS
from keras_mixkd.settings import MIN_EVAL_BATCH_SIZE


#: Help groups, in the order ``--help`` prints them.
GROUPS = ("data", "models", "training", "distillation", "study grid",
          "comparison", "export", "performance", "output")

_ARCHITECTURE = ("a name of keras_mixkd.models.available() or "
                 "keras.applications.<Name> (e.g. "
                 "keras.applications.MobileNetV3Small, built for the data's "
                 "shape and classes, random weights)")

#: Flag name -> (group, help). Plain text: no markup.
FLAGS = {
    # Data.
    "dataset": ("data", "Dataset: cifar10, cifar100, fashion_mnist, digits "
                "(bundled, offline), folder:PATH (an image folder with train/ "
                "and test/ class folders, or class folders split 80/20) or "
                "tfds:NAME (a tensorflow-datasets image dataset)."),
    "data_dir": ("data", "tensorflow-datasets data directory (or "
                 "Fashion-MNIST's IDX folder)."),
    "image_size": ("data", "Resize the images to H or H,W pixels, e.g. 16 or "
                   "40,48 (default: the dataset's size, 32 for the padded "
                   "Fashion-MNIST)."),
    "channels": ("data", "Read every image as grayscale (1) or RGB (3); "
                 "default: as the data is (an image folder must then not mix "
                 "grayscale and colour files)."),
    "validation_split": ("data", "Hold out this class-stratified fraction of "
                         "the training images (chosen by --seed, e.g. 0.1): "
                         "the best checkpoint is chosen on it and the test "
                         "set is only reported (test_* metrics); mixkd "
                         "export --calibrate fits its temperature on it."),
    "train_size": ("data", "Train on a class-stratified subset of this many "
                   "training images (the same for every --seed)."),
    # Models.
    "model": ("models", f"Architecture: {_ARCHITECTURE}."),
    "weights": ("models", "A .keras file (with its architecture: --model "
                "optional) or weights of --model (.weights.h5, official "
                ".pth)."),
    "num_classes": ("models", "Number of classes (default: from the file)."),
    "teacher": ("models", f"Teacher architecture, {_ARCHITECTURE}; optional "
                "with a .keras --teacher_weights."),
    "teacher_weights": ("models", "The trained teacher: a .keras file (its "
                        "architecture comes with it), or weights of --teacher "
                        "(.weights.h5, official .pth)."),
    "extra_teacher_weights": ("models", "Distil from several teachers: "
                              "the files of the teachers after "
                              "--teacher_weights, comma-separated (each as "
                              "--teacher_weights takes it)."),
    "extra_teachers": ("models", "The architectures of the "
                       "--extra_teacher_weights files, one per file, "
                       "comma-separated (empty for a .keras file, e.g. "
                       "resnet32,); optional when every file is .keras."),
    "teacher_loss_weights": ("models", "Each teacher's weight in the KD "
                             "term (the weighted mean of the teachers'), "
                             "--teacher_weights first, comma-separated; "
                             "default: equal."),
    "student": ("models", f"Student architecture, {_ARCHITECTURE}; optional "
                "with a .keras --student_weights."),
    "student_weights": ("models", "Start the student from these weights "
                        "(warm start): a .keras file (its architecture comes "
                        "with it), or weights of --student."),
    # Training.
    "epochs": ("training", "Training epochs (the paper: 240)."),
    "validation_freq": ("training", "Evaluate the test (or held-out) set "
                        "after the first epoch, every N epochs and after "
                        "the last (best.keras is chosen among those); on a "
                        "small --train_size the evaluation can take longer "
                        "than the epoch."),
    "batch_size": ("training", "Batch size per replica (paper: 64)."),
    "eval_batch_size": ("training", "Batch size per replica of the "
                        "validation and test evaluations; default: the "
                        f"larger of --batch_size and {MIN_EVAL_BATCH_SIZE}. "
                        "Inference only: "
                        "the accuracies do not depend on it."),
    "learning_rate": ("training", "Base learning rate for batch 64; default: "
                      "0.05, or 0.01 for MobileNetV2/ShuffleV1/ShuffleV2. "
                      "Scaled linearly with the global batch."),
    "weight_decay": ("training", "Coupled L2 weight decay."),
    "seed": ("training", "Random seed (initialisation, data, mixing)."),
    "seeds": ("training", "Repeat each run with seeds --seed .. --seed + N - "
              "1, for means, standard deviations and intervals."),
    "mixup_alpha": ("training", "Beta(a, a) parameter of the mixup."),
    # Distillation.
    "preset": ("distillation", "Fixes a set of settings, the defaults of "
               "the flags left out; a flag that contradicts them is an "
               "error. 'paper': the official MIX-KD settings (the defaults: "
               "pmu, mix_fraction 0.1, official sampling, Beta(1,1), mixstd, "
               "weights 0.1/0.9, 240 epochs, batch 64). 'patient': classic "
               "KD (T=4, weights 0.1/0.9) with a fully mixed copy of each "
               "batch appended as extra teacher queries (fmu, mix_mode "
               "append), 240 epochs, batch 64: it beat classic KD at 240 "
               "epochs and not at 60 (RESULTS.md)."),
    "loss": ("distillation", "The distillation loss, e.g. mixstd "
             "(std-scaled), kd (classic) or ls (logit standardization)."),
    "temperature": ("distillation", "Temperature of kd (default 4), ls "
                    "(default 2), dkd (4) or dist (1); mixstd: the base "
                    "temperature tau (default 1, official), each sample's "
                    "temperature being tau * std(logits); "
                    "((K-1)/sqrt(K))/(99/10), 0.29 at 10 classes, gives K "
                    "classes CIFAR-100's sharpest target."),
    "mixing": ("distillation", "Partial or full mixup (ours), keras MixUp or "
               "CutMix, or none."),
    "beta_alpha": ("distillation", "Deprecated: use --mixup_alpha."),
    "mix_fraction": ("distillation", "pmu: share of each batch to mix "
                     "(official --partmixup 0.9 is 0.1)."),
    "mix_sampling": ("distillation", "pmu: official (with replacement: ~41% "
                     "mixed at batch 64) or exact sampling."),
    "mix_mode": ("distillation", "replace: the mixed batch replaces the "
                 "clean one; append: the clean batch and its mixed copy go "
                 "through both models, cross-entropy on the clean rows, the "
                 "distillation term on all (Wang et al., NeurIPS 2022)."),
    "ce_weight": ("distillation", "Weight of the student's cross-entropy."),
    "feature_loss": ("distillation", "A feature term on RepDistiller's "
                     "layers of the two zoo models: hint (FitNets, through "
                     "a trained connector, feat[2]), at (attention transfer, "
                     "every stage), sp (similarity, last stage), pkt "
                     "(pooled features); none (docs/features.md)."),
    "feature_weight": ("distillation", "Weight of each feature term "
                       "(default: RepDistiller's, hint 100, at 1000, sp "
                       "3000, pkt 30000)."),
    "kd_weight": ("distillation", "Weight of the distillation term."),
    # Study grid.
    "teachers": ("study grid", "Teacher architectures."),
    "students": ("study grid", "Student architectures."),
    "teacher_mixup": ("study grid", "Teachers trained without (no) and/or "
                      "with (yes) mixup."),
    "student_mixup": ("study grid", "Students distilled without (no) and/or "
                      "with (yes) mixup; --mixing picks fmu (default) or "
                      "pmu."),
    "temperatures": ("study grid", "KD temperatures; 'std' divides each "
                     "network's logits by their std (the MIXSTD loss)."),
    "teacher_mixup_alpha": ("study grid", "--mixup_alpha of the mixup "
                            "teachers' full mixup."),
    "quick": ("study grid", "A small grid on digits (resnet14 -> resnet8, 8 "
              "epochs), about 10 minutes on a 2-core CPU; flags given "
              "explicitly override it."),
    # Comparison.
    "methods": ("comparison", "The student methods to compare, among: "
                "alone, kd, mixkd, mixkd_exact, fmu_kd, pmu_kd, mixstd, ls, "
                "dkd, dist, funmatch, kd_append_mixup, kd_append_cutmix, "
                "fitnet, at, fitnet_kd, at_kd, at_pmu, at_fmu "
                "(docs/compare.md describes each)."),
    "method_spec": ("comparison", "Define a method by its settings, "
                    "NAME:key=value,... (repeat the flag for several; list "
                    "each NAME in --methods), keys among: loss, temperature, "
                    "mixing, mix_fraction, mix_sampling, mix_mode, "
                    "ce_weight, kd_weight, feature_loss, feature_weight; "
                    "e.g. kd_w9:loss=kd,kd_weight=9. Omitted: no "
                    "mixing, the loss's temperature, --ce_weight and "
                    "--kd_weight (docs/compare.md)."),
    "baseline": ("comparison", "The method the others are paired against "
                 "(one of --methods)."),
    "teacher_epochs": ("comparison", "The teacher's epochs (default: "
                       "--epochs)."),
    # Export.
    "format": ("export", "A SavedModel folder or a LiteRT (.tflite) file."),
    "quantize": ("export", "LiteRT: weights in float16, or weights and "
                 "activations in int8 (calibrated on training images)."),
    "outputs": ("export", "The model's logits, or the probabilities it was "
                "trained to produce (see --trained_loss)."),
    "trained_loss": ("export", "For --outputs=probabilities: the loss the "
                     "model was trained with (mixstd: softmax(logits / std); "
                     "the others: softmax(logits)); read from the run "
                     "folder's config.json when there is one; required "
                     "outside a run folder."),
    "calibrate": ("export", "For --outputs=probabilities: fit one "
                  "temperature by NLL on held-out images (the run's "
                  "--validation_split, or --calibration_dataset; never the "
                  "test set) and bake it into the file (recorded in its "
                  ".json)."),
    "calibration_dataset": ("export", "With --calibrate: labelled images to "
                            "fit the temperature on instead of the run's "
                            "held-out split, a dataset name such as "
                            "folder:PATH (all its images; not --dataset)."),
    "trained_temperature": ("export", "For --outputs=probabilities: the base "
                            "temperature tau a mixstd student was trained "
                            "with (softmax(logits / (tau * std))); read from "
                            "the run folder's config.json when there is one, "
                            "else 1."),
    # Performance.
    "strategy": ("performance", "tf.distribute strategy: one device, all "
                 "local GPUs, or several machines (TF_CONFIG)."),
    "mixed_precision": ("performance", "Mixed-precision policy (losses stay "
                        "float32)."),
    "jit_compile": ("performance", "Compile the train step with XLA."),
    "steps_per_execution": ("performance", "Training steps per call of the "
                            "compiled step (fewer host round trips on a GPU; "
                            "same results)."),
    "deterministic": ("performance", "Make TensorFlow's ops deterministic: "
                      "the same --seed gives bit-identical weights on the "
                      "same machine, at some speed cost. Recorded in "
                      "config.json when set."),
    "teacher_dtype": ("performance", "Precision of the frozen teacher's "
                      "forward pass; 'none': the student's policy. bfloat16 "
                      "under a float32 student is faster on CPUs with "
                      "bfloat16 instructions and moves the loss by about "
                      "1e-3 relative."),
    "fold_teacher": ("performance", "Run the teacher with each BatchNorm "
                     "folded into its convolution (same logits up to "
                     "rounding): auto (when it computes below float32), on, "
                     "off."),
    # Output.
    "output_dir": ("output", "Run folder (config, metrics CSV, TensorBoard "
                   "logs, best and last checkpoints, summary). An "
                   "interrupted run resumes from it. Default: "
                   "runs/<command>-<models>-<data>."),
    "output": ("output", "The file to write."),
    "overwrite": ("output", "Train again from scratch in a run folder that "
                  "holds a run (finished or interrupted, of any "
                  "configuration), removing that run's own files there "
                  "(config.json, metrics.csv, summary.json, checkpoints/, "
                  "backup/, tensorboard/) and nothing else. Without it, a "
                  "finished run is not trained again."),
    "backup_interval_s": ("output", "Back up the training state (and "
                          "write last.keras) after an epoch only when this "
                          "many seconds have passed since the last backup, "
                          "or after the last epoch or a new best; 0: after "
                          "every epoch. A kill loses the epochs since the "
                          "last backup, which run again on resumption."),
    "verbose": ("output", "Keras progress output: 1 progress bar, 2 one line "
                "per epoch, auto: 1 on a terminal, 2 otherwise."),
}

#: (command, flag) -> its help there, where the command gives the flag
#: another meaning than ``FLAGS``'s.
COMMAND_HELP = {
    ("train-teacher", "mixup_alpha"): "Train with full mixup of Beta(a, a) "
                                      "when > 0 (default: no mixup).",
    ("distill", "mixup_alpha"): "Beta(a, a) parameter of --mixing (default "
                                "1.0).",
    ("compare", "mixup_alpha"): "Beta(a, a) parameter of the methods' mixup "
                                "(default 1.0).",
    ("study", "mixup_alpha"): "Beta(a, a) parameter of the students' mixup "
                              "(default 1.0).",
    ("evaluate", "output_dir"): "Also write evaluation.json in this folder.",
    ("compare", "output_dir"): "Folder of the comparison (its runs, "
                               "results.csv, summary.json, summary.md). "
                               "Default: runs/compare-<models>-<data>.",
    ("study", "output_dir"): "Folder of the study (its runs, results.csv, "
                             "report.md). Default: runs/study-<data>.",
    ("quickstart", "output_dir"): "Root folder of the four runs, "
                                  "results.md and results.json.",
    ("convert", "weights"): "The official PyTorch .pth checkpoint to "
                            "convert.",
    ("export", "weights"): "The trained .keras model to export.",
    ("convert", "output"): "The .keras file to write.",
    ("export", "output"): "The SavedModel folder or .tflite file to write.",
    ("export", "loss"): "Deprecated: use --trained_loss.",
    ("export", "batch_size"): "Batch size of the test-set evaluation.",
    ("export", "overwrite"): "Replace an existing --output (and its "
                             "metadata .json); without it an existing output "
                             "is refused.",
}

#: (command, flag) -> the default shown there, where the command's differs.
COMMAND_DEFAULTS = {
    ("export", "loss"): None,  # stands for --trained_loss only when given
    ("quickstart", "epochs"): 8,
    ("study", "mixing"): "fmu",
}

#: Boolean flags (written --name / --noname).
BOOLEANS = ("jit_compile", "deterministic", "quick", "overwrite",
            "calibrate")

#: Flags of every command that trains or evaluates.
RUNTIME = ("dataset", "data_dir", "image_size", "channels", "batch_size",
           "seed", "strategy", "mixed_precision", "jit_compile",
           "deterministic", "output_dir", "verbose")

#: Flags of every command that trains.
TRAINING = RUNTIME + ("train_size", "epochs", "validation_freq",
                      "learning_rate", "weight_decay", "steps_per_execution",
                      "backup_interval_s", "eval_batch_size")

#: Flags of the frozen teacher's speed.
TEACHER_SPEED = ("teacher_dtype", "fold_teacher")

#: Flags of distillation.
DISTILLATION = ("mixup_alpha", "beta_alpha", "loss", "mixing",
                "mix_fraction", "mix_sampling", "mix_mode", "temperature",
                "ce_weight", "kd_weight")

#: Flags of the feature terms (distill).
FEATURES = ("feature_loss", "feature_weight")

#: The study grid's own flags.
GRID = ("teachers", "students", "teacher_mixup", "student_mixup",
        "temperatures", "teacher_mixup_alpha", "quick", "seeds")

#: Command -> the flags it takes (any other is refused by name).
COMMAND_FLAGS = {
    "train-teacher": TRAINING + ("model", "mixup_alpha", "overwrite",
                                 "validation_split"),
    "distill": (TRAINING + DISTILLATION + FEATURES + TEACHER_SPEED
                + ("teacher", "teacher_weights", "extra_teacher_weights",
                   "extra_teachers", "teacher_loss_weights", "student",
                   "student_weights", "preset", "overwrite",
                   "validation_split")),
    "evaluate": RUNTIME + ("model", "weights"),
    "convert": ("model", "weights", "output", "num_classes"),
    "export": ("weights", "dataset", "data_dir", "image_size", "channels",
               "batch_size", "format", "quantize", "outputs", "trained_loss",
               "trained_temperature", "loss", "calibrate",
               "calibration_dataset", "overwrite", "output"),
    "quickstart": tuple(n for n in TRAINING
                        if n not in ("dataset", "data_dir", "image_size",
                                     "channels")),
    "study": (TRAINING + TEACHER_SPEED + GRID
              + tuple(n for n in DISTILLATION
                      if n not in ("loss", "temperature", "mix_mode"))),
    "compare": TRAINING + TEACHER_SPEED + (
        "teacher", "teacher_weights", "student", "mixup_alpha", "ce_weight",
        "kd_weight", "seeds", "methods", "method_spec", "baseline",
        "teacher_epochs"),
    "report": (),
}

#: Command -> what to say when it is given a flag it does not take.
UNUSED_HINTS = {
    "quickstart": "the quick start fixes its own dataset, models and losses",
    "study": ("the study sets the models, losses and temperatures itself for "
              "each run; choose the grid with --teachers, --students, "
              "--teacher_mixup, --student_mixup and --temperatures"),
    "compare": ("each method of --methods sets its loss, temperature and "
                "mixing itself; define one of your own with --method_spec"),
}


def help_of(name, command=None):
    """The help text of flag ``name``, as ``command`` uses it.

    Args:
        name: a flag name of ``FLAGS``.
        command: a command of ``COMMAND_FLAGS``, or None: the text of
            ``FLAGS`` followed by each command's other meaning (absl's
            help, for ``--helpfull``).

    Returns:
        Plain text.
    """
    if command is not None:
        return COMMAND_HELP.get((command, name), FLAGS[name][1])
    others = [f"{cmd}: {text}" for (cmd, flag), text in COMMAND_HELP.items()
              if flag == name]
    return " ".join([FLAGS[name][1], *others])


def default_of(name, command):
    """The default ``--help`` shows for ``name`` in ``command``, or None."""
    return COMMAND_DEFAULTS.get((command, name), DEFAULTS.get(name))
