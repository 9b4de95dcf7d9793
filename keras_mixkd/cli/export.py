"""``mixkd export``: a trained ``.keras`` model as a SavedModel or LiteRT file.

    mixkd export --weights=runs/distill-x/checkpoints/best.keras \\
        --dataset=digits --format=litert --quantize=int8 \\
        --output=student.tflite

The exported model takes raw ``uint8`` images of the data's image size and
normalises them inside; with ``--outputs=probabilities`` it returns the
probabilities the model was trained to produce (``--trained_loss`` and, for
mixstd, ``--trained_temperature``, read from the run folder's config.json
when there is one; ``--trained_loss`` is required otherwise);
``--calibrate`` fits a temperature on held-out images (the run's
``--validation_split``, or ``--calibration_dataset``) and bakes it in.
Its metadata file (``student.json`` beside ``student.tflite``, or
``export.json`` inside a SavedModel folder) holds the mean, std, image size,
class names, and the loss and temperatures of the probabilities. An existing
output is refused without ``--overwrite``. The command prints the file's
size, its latency per image, the accuracy of the exported file on the
dataset's test split and, for probabilities, their calibration error there.
"""

import dataclasses
import json
import warnings

from keras_mixkd import exporting
from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flags



def export_config():
    """The `keras_mixkd.exporting.ExportConfig` of the flags; ``--loss``
    stands for ``--trained_loss`` with a warning."""
    values = {f.name: flags.FLAGS[f.name].value
              for f in dataclasses.fields(exporting.ExportConfig)
              if f.name in flags.FLAGS}
    if flags.present("loss"):
        warnings.warn("mixkd export: --loss is deprecated; use "
                      "--trained_loss.", FutureWarning, stacklevel=2)
        if flags.present("trained_loss") and (
                flags.FLAGS.trained_loss != flags.FLAGS.loss):
            raise ValueError("--loss (deprecated) and --trained_loss differ; "
                             "give --trained_loss only.")
        values["trained_loss"] = flags.FLAGS.loss
    return exporting.ExportConfig(**values)


def main():
    results = exporting.export_model(export_config())
    tau = results.get("temperature")
    print(f"wrote {results['output']} ({results['format']}, quantize "
          f"{results['quantize']}, outputs {results['outputs']}"
          f"{', loss ' + results['loss'] if results['loss'] else ''}"
          f"{f', temperature {tau:g}' if tau is not None else ''})")
    print(f"size: {results['size_bytes'] / 1e3:.1f} kB")
    print(f"latency: {results['latency_ms']:.3f} ms per image (batch 1)")
    print(f"test accuracy: {100 * results['accuracy']:.2f}% "
          f"({results['test_images']} images)")
    if "ece" in results:
        calibrated = results["calibration_temperature"]
        fitted = ("" if calibrated is None else
                  f", calibration temperature {calibrated:.4g} fitted on "
                  f"{results['calibration']['images']} held-out images")
        print(f"test calibration error (ECE): {100 * results['ece']:.2f}%, "
              f"mean confidence {100 * results['mean_confidence']:.2f}%"
              f"{fitted}")
    print(f"metadata: {results['metadata']}")
    print(json.dumps(results))
