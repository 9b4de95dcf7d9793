"""``mixkd export``: a trained ``.keras`` model as a SavedModel or LiteRT file.

    mixkd export --weights=runs/distill-x/checkpoints/best.keras \\
        --dataset=folder:flowers --image_size=64 --format=litert \\
        --quantize=int8 --output=out/student.tflite

The exported model takes raw ``uint8`` images of the data's image size and
returns logits (or, with ``--outputs=probabilities``, the probabilities the
model was trained to produce), with the normalisation inside;
``export.json`` beside it holds the mean, std, image size and class names.
Prints the file size, the mean latency per image and the test accuracy of
the exported file on the dataset's test split.
"""

import json

from keras_mixkd import training
from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flags
from keras_mixkd.training import config as config_lib

FLAGS_USED = flag_docs.COMMAND_FLAGS["export"]


def main():
    # --loss here is the loss the model was trained with ("ce" included),
    # not a distillation setting: it goes to export_model, not RunConfig.
    config = flags.run_config(loss=config_lib.default("loss"))
    loss = flags.FLAGS.loss if flags.present("loss") else None
    results = training.export_model(config, loss=loss)
    print(f"wrote {results['output']} ({results['format']}, quantize "
          f"{results['quantize']}, outputs {results['outputs']}"
          f"{', loss ' + results['loss'] if results['loss'] else ''})")
    print(f"size: {results['size_bytes'] / 1e3:.1f} kB")
    print(f"latency: {results['latency_ms']:.3f} ms per image (batch 1)")
    print(f"test accuracy: {100 * results['accuracy']:.2f}% "
          f"({results['test_images']} images)")
    print(json.dumps(results))
