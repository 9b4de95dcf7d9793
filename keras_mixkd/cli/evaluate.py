"""``mixkd evaluate``: clean test accuracy and loss of a trained model.

    mixkd evaluate --model=resnet8x4 --weights=runs/.../best.keras --dataset=cifar100
"""

import json
import pathlib

import keras

from keras_mixkd import data
from keras_mixkd import models
from keras_mixkd.cli import common
from keras_mixkd.cli.flags import FLAGS


def evaluate(model_name, weights):
    """Evaluates ``weights`` of ``model_name`` on the flags' test set.

    Returns:
        A dict with ``accuracy``, ``loss`` (cross-entropy) and the counts.
    """
    common.check_model_name(model_name, "model")
    strategy = common.setup_runtime()
    info = data.dataset_info(FLAGS.dataset, FLAGS.data_dir)
    with strategy.scope():
        model = models.create(model_name, num_classes=info.num_classes,
                              input_shape=info.image_shape)
        common.load_weights(model, weights, "weights")
        model.compile(
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=FLAGS.jit_compile)
    _, test_ds, info, _, _ = common.load_data(strategy)
    results = model.evaluate(test_ds, verbose=common.verbosity(),
                             return_dict=True)
    return {"model": model_name, "weights": str(weights),
            "dataset": FLAGS.dataset, "accuracy": float(results["accuracy"]),
            "loss": float(results["loss"])}


def main():
    common.require("model", "weights")
    results = evaluate(FLAGS.model, FLAGS.weights)
    print(json.dumps(results, indent=2))
    if FLAGS.output_dir:
        path = pathlib.Path(FLAGS.output_dir)
        path.mkdir(parents=True, exist_ok=True)
        (path / "evaluation.json").write_text(json.dumps(results, indent=2))
