"""Writes the tutorial notebooks of this folder (nbformat 4, outputs cleared).

The notebooks are generated so that their shared cells (the Colab setup)
stay identical and the files stay clean in version control. Edit this file,
then run:

    python notebooks/make_notebooks.py

`tests/test_notebooks.py` checks that the committed notebooks are what this
script writes, and executes them with one epoch.
"""

import pathlib

import nbformat
from nbformat import v4

HERE = pathlib.Path(__file__).resolve().parent

COLAB_MD = """\
**Running it.** Locally, start Jupyter from this repository's `notebooks/`
folder (the package is imported from the checkout when it is not installed).
In [Colab](https://colab.research.google.com), upload this notebook (File >
Upload notebook), then bring your copy of the keras_mixkd repository into the
runtime, e.g. with `!git clone <URL of your copy> /content/keras_mixkd` or by
uploading a zip of it and unzipping it to `/content/keras_mixkd` (set
`MIXKD_REPO` if you use another path). The first code cell installs it there;
everything after runs offline. `MIXKD_NOTEBOOK_EPOCHS` sets the number of
epochs (default 15: a few minutes on a Colab GPU)."""

SETUP = """\
# Setup: in Colab, install the repository; elsewhere, use this checkout.
import importlib.util
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "google.colab" in sys.modules:
    REPO = os.environ.get("MIXKD_REPO", "/content/keras_mixkd")
    if not os.path.isdir(REPO):
        raise FileNotFoundError(
            f"Clone or unzip your copy of keras_mixkd to {REPO} first.")
    %pip install -q {REPO}
elif importlib.util.find_spec("keras_mixkd") is None:
    # Not installed: import it from the checkout this notebook lives in.
    sys.path.insert(0, str(pathlib.Path.cwd().parent))

EPOCHS = int(os.environ.get("MIXKD_NOTEBOOK_EPOCHS", "15"))"""

DIGITS_NOTEBOOK = [
    ("md", f"""\
# MixKD on digits: partial mixup and an adaptive temperature

This notebook distils a ResNet teacher into a smaller ResNet student with the
recipe of *Understanding the Role of Mixup in Knowledge Distillation* (Choi et
al., WACV 2023), using `keras_mixkd`:

1. train a `resnet14` teacher, and a `resnet8` student alone for comparison;
2. see what partial mixup (PMU) does to a batch, with the official and the
   exact sampling;
3. distil the teacher into a new `resnet8` with PMU and the MIXSTD losses;
4. plot the training curves and compare with the student trained alone.

It uses scikit-learn's bundled digits (1,797 real 8x8 images upscaled to
32x32x3), so it needs no download; on CIFAR-100 the same code runs with
`keras_mixkd.data.load("cifar100")` and 240 epochs.

{COLAB_MD}"""),
    ("code", SETUP),
    ("code", """\
import keras
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

import keras_mixkd

keras.utils.set_random_seed(0)
# Normalised 32x32x3 images, batches of 64 (the paper's), integer labels.
train_ds, test_ds, info = keras_mixkd.data.load("digits", batch_size=64)
STEPS = int(train_ds.cardinality())
print(f"{info.num_train} train / {info.num_test} test images, "
      f"{info.num_classes} classes, {STEPS} steps per epoch, "
      f"{EPOCHS} epochs")"""),
    ("md", """\
## 1. A teacher, and the student alone

Both are trained with the paper's recipe (the RepDistiller protocol):
`keras_mixkd.recipe.paper_optimizer` is SGD with momentum 0.9, weight decay
5e-4 coupled to the gradient as in PyTorch, and a learning rate divided by 10
after 150, 180 and 210 of 240 epochs (scaled to shorter runs)."""),
    ("code", """\
def train_alone(name):
    \"\"\"Trains a zoo model alone; returns it and its history.\"\"\"
    model = keras_mixkd.models.create(name, num_classes=info.num_classes,
                                      input_shape=info.image_shape)
    model.compile(
        optimizer=keras_mixkd.recipe.paper_optimizer(name, STEPS,
                                                     epochs=EPOCHS),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    history = model.fit(train_ds, validation_data=test_ds, epochs=EPOCHS,
                        verbose=0)
    return model, history.history


teacher, teacher_log = train_alone("resnet14")
_, alone_log = train_alone("resnet8")
for name, log in [("teacher resnet14", teacher_log),
                  ("student resnet8 alone", alone_log)]:
    print(f"{name}: test accuracy {100 * log['val_accuracy'][-1]:.2f}%")"""),
    ("md", """\
## 2. Partial mixup (PMU): official versus exact sampling

Mixup trains on convex combinations `lam * x_i + (1 - lam) * x_j` of two
images and of their one-hot labels, `lam ~ Beta(1, 1)`. Full mixup (FMU) mixes
every image of the batch; the paper's PMU mixes only part of it, because a
teacher's soft outputs and mixup both smooth the targets, and together they
over-smooth. In MixKD the teacher sees exactly the mixed batch the student
sees.

The official code's `--partmixup 0.9` is meant to keep 90% of each batch clean.
It draws `floor(0.9 * B)` rows to keep clean *with replacement*, so repeated
draws leave fewer rows clean: at batch 64 about 41% of the rows are mixed, not
10%. `PartialMixUp(sampling="official")` reproduces this (to reproduce the
published numbers); `sampling="exact"` mixes exactly `mix_fraction` of the
batch. Below, every image has its own class, so a row is mixed exactly when its
label is no longer one-hot."""),
    ("code", """\
def mixed_share(sampling, batches=50, batch_size=64):
    \"\"\"Average share of rows that PMU mixes, mix_fraction=0.1.\"\"\"
    mixer = keras_mixkd.PartialMixUp(alpha=1.0, mix_fraction=0.1,
                                     sampling=sampling, seed=0)
    batch = {"images": np.zeros((batch_size, 4, 4, 1), "float32"),
             "labels": np.eye(batch_size, dtype="float32")}
    shares = [np.mean(np.max(mixer(batch, training=True)["labels"], 1) < 1)
              for _ in range(batches)]
    return float(np.mean(shares))


expected = (1 - 1 / 64) ** int(0.9 * 64)
print(f"official sampling: {100 * mixed_share('official'):.1f}% mixed "
      f"(expected {100 * expected:.1f}%, minus rows paired with themselves)")
print(f"exact sampling:    {100 * mixed_share('exact'):.1f}% mixed")"""),
    ("md", """\
## 3. MIXSTD: each sample's own temperature

Classic KD divides every logit vector by one temperature (T=4). MIXSTD divides
each network's logits, per sample, by their own standard deviation, so a
confident (large-logit) sample and an uncertain one are softened to a similar
scale. With student logits `z_s` and teacher logits `z_t`, the student
minimises

```
0.1 * CE(mixed labels, softmax(z_s / std(z_s)))
  + 0.9 * KL(softmax(z_t / std(z_t)) || softmax(z_s / std(z_s)))
```

(no `T^2` factor; the std is unbiased, as `torch.std`). Here are the
temperatures MIXSTD would give the teacher's outputs:"""),
    ("code", """\
teacher_logits = teacher.predict(test_ds, verbose=0)
temperatures = keras_mixkd.analysis.logit_std(teacher_logits)
print(f"per-sample temperatures of the teacher: "
      f"min {temperatures.min():.2f}, median {np.median(temperatures):.2f}, "
      f"max {temperatures.max():.2f}")"""),
    ("md", """\
Now the distillation. `keras_mixkd.Distiller(student=..., teacher=...)` alone
is the paper's recipe; the mixer and the loss are spelled out here."""),
    ("code", """\
student = keras_mixkd.models.create("resnet8", num_classes=info.num_classes,
                                    input_shape=info.image_shape)
distiller = keras_mixkd.Distiller(
    student=student, teacher=teacher,
    mixer=keras_mixkd.PartialMixUp(alpha=1.0, mix_fraction=0.1,
                                   sampling="official", seed=0),
    distillation_loss="mixstd", ce_weight=0.1, kd_weight=0.9)
distiller.compile(
    optimizer=keras_mixkd.recipe.paper_optimizer("resnet8", STEPS,
                                                 epochs=EPOCHS),
    metrics=["accuracy"])
mixkd_log = distiller.fit(train_ds, validation_data=test_ds, epochs=EPOCHS,
                          verbose=2).history"""),
    ("md", """\
## 4. Training curves

`loss = ce_loss + kd_loss` (the weighted terms). The training `accuracy` of the
distiller is measured against the mixed labels, as in the official code, so it
is lower than that of the student trained on clean images; `val_accuracy` is
the student alone on the clean test images. MIXSTD trains the std-scaled
logits, not the raw ones, so the distilled student's `val_loss` is the
cross-entropy of `softmax(z / std(z))`, the loss it was trained on (callbacks
on `val_loss` act on it); `val_raw_ce`, the plain cross-entropy of its raw
logits, stays high even at high accuracy."""),
    ("code", """\
epochs = np.arange(1, EPOCHS + 1)
fig, axes = plt.subplots(1, 5, figsize=(20, 3.8))
for ax, key in zip(axes, ["loss", "ce_loss", "kd_loss", "accuracy",
                          "val_accuracy"]):
    ax.plot(epochs, mixkd_log[key], marker="o", label="resnet8 + MixKD")
    if key in ("accuracy", "val_accuracy"):
        ax.plot(epochs, alone_log[key], marker="s", label="resnet8 alone")
    if key == "val_accuracy":
        ax.plot(epochs, teacher_log[key], "k--", label="teacher resnet14")
    ax.set_title(key)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
axes[-1].legend()
fig.tight_layout()
plt.show()"""),
    ("code", """\
print(f"{'model':<24} {'test accuracy':>13}")
for name, log in [("teacher resnet14", teacher_log),
                  ("resnet8 alone", alone_log),
                  ("resnet8 + MixKD", mixkd_log)]:
    print(f"{name:<24} {100 * log['val_accuracy'][-1]:>12.2f}%")"""),
    ("md", """\
Digits is easy: with the default 15 epochs all three networks reach about
99% (a one-point difference is a few test images), so this notebook shows the
mechanics, not the gain; the paper's gains are measured on CIFAR-100 (see
`examples/reproduce_paper.sh`). With very short runs the numbers are noise.

**Next.** Classic KD for comparison is
`Distiller(..., mixer=None, distillation_loss="kd", temperature=4.0)`.
The `mixkd` command line runs all of this on CIFAR-100 with run folders,
resumption and multi-GPU strategies (`mixkd distill --preset=paper ...`), and
`02_official_teacher_checkpoint.ipynb` starts from an official PyTorch
teacher."""),
]

CHECKPOINT_NOTEBOOK = [
    ("md", f"""\
# Distilling from an official PyTorch teacher checkpoint

The paper's teachers (RepDistiller, MIX-KD) are PyTorch checkpoints saved as
`torch.save({{"epoch": 240, "model": state_dict, ...}}, path)`, in the layout
`save/models/<name>_vanilla/ckpt_epoch_240.pth` (`resnet56`, `resnet110`,
`resnet32x4`, `wrn_40_2`, `vgg13`, `ResNet50`). This notebook shows how to
bring one into Keras and distil from it:

1. the loader's safety: it never runs code from the file;
2. loading an official checkpoint, checking parameter counts and logits;
3. converting it to a `.keras` file (`convert_torch_checkpoint`,
   `mixkd convert`);
4. distilling from a teacher file with `mixkd distill`.

Parts 2 and 3 use the official reference checkpoint `resnet20.pth`
(CIFAR-100, 100 classes) that the repository keeps in `tests/fixtures/` (in a
clone; they are skipped where it is absent); part 4 runs offline on digits.

{COLAB_MD}"""),
    ("code", SETUP),
    ("code", """\
import io
import json
import pickle
import tempfile
import zipfile

import keras
import numpy as np

import keras_mixkd
from keras_mixkd.cli.main import run as mixkd  # `mixkd ...` in a shell
from keras_mixkd.models import torch_import

cwd = pathlib.Path.cwd()
ROOT = cwd.parent if cwd.name == "notebooks" else cwd
REFERENCE = pathlib.Path(os.environ.get(
    "MIXKD_REFERENCE_DIR", ROOT / "tests" / "fixtures"))
HAVE_REFERENCE = (REFERENCE / "resnet20.pth").is_file()
WORK = pathlib.Path(tempfile.mkdtemp(prefix="mixkd-notebook-"))
print(f"reference checkpoint: {'found' if HAVE_REFERENCE else 'absent'} "
      f"({REFERENCE}); files written to {WORK}")"""),
    ("md", """\
## 1. A safe loader

A `.pth` file is a pickle, and `pickle.load` (or `torch.load` without
`weights_only=True`) imports and calls whatever the file names: loading an
untrusted checkpoint can run arbitrary code. `keras_mixkd` reads checkpoints
without torch and with an allow-list unpickler: only the few globals a state
dict needs are resolved, to local stand-ins, and tensors are rebuilt with
numpy from the raw storages. Anything else is refused *before* it runs. Here is
a checkpoint that would call `print` on load:"""),
    ("code", """\
class Payload:
    def __reduce__(self):
        return (print, ("this ran while loading the checkpoint!",))


evil = WORK / "evil.pth"
with zipfile.ZipFile(evil, "w") as archive:  # torch.save's zip layout
    archive.writestr("evil/data.pkl", pickle.dumps({"model": Payload()}))
try:
    torch_import.load_torch_state_dict(evil)
except torch_import.UnsafeCheckpointError as e:
    print(f"UnsafeCheckpointError: {e}")"""),
    ("md", """\
## 2. Loading an official checkpoint

`keras_mixkd.models.create(name, num_classes)` builds the architecture with
layers named after the PyTorch modules, and
`keras_mixkd.models.load_torch_weights` fills it: convolution, dense and
BatchNorm tensors (running statistics included) are converted to Keras's
layout. The whole checkpoint is checked first, so a wrong architecture or
number of classes changes nothing and says which tensors differ."""),
    ("code", """\
if HAVE_REFERENCE:
    path = REFERENCE / "resnet20.pth"
    state = torch_import.load_torch_state_dict(path)
    teacher = keras_mixkd.models.create("resnet20", num_classes=100)
    keras_mixkd.models.load_torch_weights(teacher, path)

    # Parameter counts: the checkpoint, the Keras model, the official count.
    in_file = sum(v.size for k, v in state.items() if "running_" not in k)
    in_keras = sum(int(np.prod(w.shape)) for w in teacher.trainable_weights)
    official = json.loads((REFERENCE / "model_params.json").read_text())
    print(f"{len(state)} tensors; trainable parameters: checkpoint {in_file:,}"
          f", keras {in_keras:,}, official "
          f"{official['resnet20']['trainable_params']:,}")

    # The official model's logits on reference inputs (eval mode).
    reference = np.load(REFERENCE / "resnet20_io.npz")
    logits = teacher.predict(reference["input_nhwc"], verbose=0)
    error = np.abs(logits - reference["logits"]).max()
    relative = error / np.abs(reference["logits"]).max()
    print(f"max |keras - official| = {error:.2e} ({relative:.1e} of the "
          "largest logit): "
          + ("matches the official logits" if relative < 1e-4 else "MISMATCH"))

    try:  # the wrong architecture: nothing is loaded
        keras_mixkd.models.load_torch_weights(
            keras_mixkd.models.create("resnet8", num_classes=100), path)
    except torch_import.CheckpointMismatchError as e:
        print("\\nCheckpointMismatchError:", str(e).splitlines()[0])
else:
    print(f"note: no reference checkpoint at {REFERENCE}; skipping parts 2 "
          "and 3 (set MIXKD_REFERENCE_DIR, or use your own checkpoint).")"""),
    ("md", """\
## 3. Converting to a `.keras` file

Convert once, then use the `.keras` file anywhere Keras runs (no importer
needed): from Python with `convert_torch_checkpoint`, or from a shell with

```
mixkd convert --model=resnet32x4 \\
    --weights=save/models/resnet32x4_vanilla/ckpt_epoch_240.pth \\
    --output=resnet32x4.keras
```

(here it runs in this process, through `keras_mixkd.cli.main.run`)."""),
    ("code", """\
if HAVE_REFERENCE:
    keras_mixkd.models.convert_torch_checkpoint(
        "resnet20", REFERENCE / "resnet20.pth", WORK / "resnet20_api.keras")
    status = mixkd(["mixkd", "convert", "--model=resnet20",
                    f"--weights={REFERENCE / 'resnet20.pth'}",
                    f"--output={WORK / 'resnet20_cli.keras'}"])
    for name in ("resnet20_api.keras", "resnet20_cli.keras"):
        converted = keras.saving.load_model(WORK / name)
        same = np.allclose(converted.predict(reference["input_nhwc"],
                                             verbose=0), logits, atol=1e-6)
        print(f"{name}: same logits as the imported model: {same}")
else:
    print("note: skipped (no reference checkpoint).")"""),
    ("md", """\
## 4. Distilling from the teacher

On CIFAR-100 with an official teacher, one command runs the paper's recipe
(partial mixup with the official sampling, MIXSTD, 240 epochs, batch 64):

```
mixkd distill --teacher=resnet32x4 --student=resnet8x4 --dataset=cifar100 \\
    --teacher_weights=save/models/resnet32x4_vanilla/ckpt_epoch_240.pth \\
    --preset=paper
```

`--teacher_weights` takes the `.pth` directly or its converted `.keras`. In
Python: `teacher = keras_mixkd.models.create("resnet32x4", num_classes=100)`,
`load_torch_weights(teacher, path)`, then `keras_mixkd.Distiller(student=...,
teacher=teacher)`. Offline, we do the same on digits with a teacher trained
briefly here and saved as a `.keras` file."""),
    ("code", """\
common = ["--dataset=digits", f"--epochs={EPOCHS}", "--verbose=2"]
assert mixkd(["mixkd", "train-teacher", "--model=resnet14",
              f"--output_dir={WORK / 'teacher'}", *common]) == 0
teacher_file = WORK / "teacher" / "checkpoints" / "last.keras"
assert mixkd(["mixkd", "distill", "--teacher=resnet14",
              f"--teacher_weights={teacher_file}", "--student=resnet8",
              "--loss=mixstd", "--mixing=pmu", "--mix_fraction=0.1",
              "--mix_sampling=official", "--batch_size=64",
              f"--output_dir={WORK / 'student'}", *common]) == 0"""),
    ("md", """\
Each command wrote a run folder: `config.json`, `metrics.csv`, TensorBoard
logs, `checkpoints/best.keras` and `last.keras`, and `summary.json`."""),
    ("code", """\
print(f"{'run':<10} {'best':>8} {'last':>8}")
for run in ("teacher", "student"):
    summary = json.loads((WORK / run / "summary.json").read_text())
    print(f"{run:<10} {100 * summary['best_accuracy']:>7.2f}% "
          f"{100 * summary['last_accuracy']:>7.2f}%")
student = keras.saving.load_model(WORK / "student" / "checkpoints" /
                                  "last.keras")
print(f"\\nstudent {student.name}: {student.count_params():,} parameters, "
      f"outputs {student.output_shape}")"""),
]

NOTEBOOKS = {
    "01_mixkd_on_digits.ipynb": DIGITS_NOTEBOOK,
    "02_official_teacher_checkpoint.ipynb": CHECKPOINT_NOTEBOOK,
}


def build(cells):
    """A notebook (nbformat 4, no outputs) from ``(kind, source)`` pairs."""
    make = {"md": v4.new_markdown_cell, "code": v4.new_code_cell}
    notebook = v4.new_notebook(cells=[make[kind](source)
                                      for kind, source in cells])
    notebook.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3",
                       "language": "python"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
        "accelerator": "GPU",
    })
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index:02d}"  # stable ids: reproducible files
    nbformat.validate(notebook)
    return notebook


def render(cells):
    """The notebook's file contents."""
    return nbformat.writes(build(cells)) + "\n"


def main():
    for name, cells in NOTEBOOKS.items():
        (HERE / name).write_text(render(cells))
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
