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
from keras_mixkd.cli import flags
from keras_mixkd.training import config as config_lib

FLAGS_USED = ("weights", "dataset", "data_dir", "image_size", "batch_size",
              "format", "quantize", "outputs", "loss", "temperature",
              "output")

#: Defaults shown by --help where export's differ from the flag's.
HELP_DEFAULTS = {"loss": "the run's, else ce",
                 "temperature": "the run's (mixstd), else 1"}


def main():
    # --loss and --temperature here are how the model was trained ("ce"
    # included), not distillation settings: they go to export_model.
    config = flags.run_config(loss=config_lib.default("loss"),
                              temperature=None)
    loss = flags.FLAGS.loss if flags.present("loss") else None
    temperature = (flags.FLAGS.temperature if flags.present("temperature")
                   else None)
    results = training.export_model(config, loss=loss,
                                    temperature=temperature)
    tau = results.get("temperature")
    print(f"wrote {results['output']} ({results['format']}, quantize "
          f"{results['quantize']}, outputs {results['outputs']}"
          f"{', loss ' + results['loss'] if results['loss'] else ''}"
          f"{f', temperature {tau:g}' if tau is not None else ''})")
    print(f"size: {results['size_bytes'] / 1e3:.1f} kB")
    print(f"latency: {results['latency_ms']:.3f} ms per image (batch 1)")
    print(f"test accuracy: {100 * results['accuracy']:.2f}% "
          f"({results['test_images']} images)")
    print(json.dumps(results))
