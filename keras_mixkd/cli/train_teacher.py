"""``mixkd train-teacher``: train a model alone, with or without mixup.

The paper compares teachers trained with and without mixup: a mixup-trained
teacher is already smooth, and distilling it at a high temperature
over-smooths the student.

    mixkd train-teacher --model=resnet32x4 --dataset=cifar100 [--mixup_alpha=1]
"""

import keras

from keras_mixkd import data
from keras_mixkd import models
from keras_mixkd.cli import common
from keras_mixkd.cli.flags import FLAGS
from keras_mixkd.cli.flags import values
from keras_mixkd.mixing import PartialMixUp


def config(model_name, mixup_alpha):
    """The resolved configuration of a teacher run."""
    return {"command": "train-teacher", "model": model_name,
            "mixup_alpha": mixup_alpha, **values(common.TRAINING_FLAGS)}


def train(model_name, mixup_alpha, run_name=None):
    """Trains ``model_name`` under the flags; returns (model, summary)."""
    common.check_model_name(model_name, "model")
    if mixup_alpha < 0:
        common.fail(f"--mixup_alpha must be >= 0, got {mixup_alpha}.")
    strategy = common.setup_runtime()
    train_ds, test_ds, info, batch, steps = common.load_data(strategy)
    run = common.open_run(
        run_name or f"teacher-{model_name}-{FLAGS.dataset}"
        f"{'-mixup' if mixup_alpha else ''}", config(model_name, mixup_alpha),
        strategy)
    train_ds = data.one_hot(train_ds, info.num_classes)
    test_ds = data.one_hot(test_ds, info.num_classes)
    if mixup_alpha:
        train_ds = data.mix(train_ds, PartialMixUp(
            alpha=mixup_alpha, mix_fraction=1.0, seed=FLAGS.seed))
    with strategy.scope():
        model = models.create(model_name, num_classes=info.num_classes,
                              input_shape=info.image_shape)
        model.compile(
            optimizer=common.optimizer_for(model_name, steps, batch),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
            jit_compile=FLAGS.jit_compile)
    summary = common.fit(run, model, model, train_ds, test_ds)
    print(f"{model_name} on {FLAGS.dataset}: best {summary['best_accuracy']}"
          f", last {summary['last_accuracy']} (run folder: {run.path})")
    return model, summary


def main():
    common.require("model")
    train(FLAGS.model, FLAGS.mixup_alpha)
