"""``mixkd convert``: an official PyTorch checkpoint to a ``.keras`` file.

    mixkd convert --model=resnet32x4 --weights=ckpt_epoch_240.pth \\
        --output=resnet32x4.keras
"""

import pathlib

from keras_mixkd.cli import common
from keras_mixkd.cli.flags import FLAGS
from keras_mixkd.models import torch_import


def main():
    common.require("model", "weights", "output")
    common.check_model_name(FLAGS.model, "model")
    if not FLAGS.output.endswith(".keras"):
        common.fail(f"--output must end with .keras, got {FLAGS.output}.")
    if not pathlib.Path(FLAGS.weights).is_file():
        common.fail(f"--weights: no file at {FLAGS.weights}.")
    try:
        torch_import.convert_torch_checkpoint(
            FLAGS.model, FLAGS.weights, FLAGS.output,
            num_classes=FLAGS.num_classes)
    except (ValueError, OSError) as e:
        common.fail(f"Could not convert {FLAGS.weights} as {FLAGS.model}: {e}")
    print(f"wrote {FLAGS.output}")
