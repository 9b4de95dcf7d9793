"""Exporting a trained ``.keras`` model for deployment, and measuring it.

`export_model` is what ``mixkd export`` runs: it loads a ``.keras`` file
(a checkpoint of a run folder, or any Keras model file), writes a SavedModel
or LiteRT file that takes raw ``uint8`` images (`keras_mixkd.export`), and
measures the file: size, mean latency per image, and test accuracy of the
exported artefact itself on the dataset's test split.

Example:

```python
config = ExportConfig(dataset="digits",
                      weights="runs/x/checkpoints/best.keras",
                      format="litert", quantize="int8",
                      output="out/student.tflite")
results = export_model(config)
results["accuracy"], results["latency_ms"]
```
"""

import json
import pathlib

import numpy as np
import tensorflow as tf

from keras_mixkd import data
from keras_mixkd import losses
from keras_mixkd.exporting import model_file as exporting
from keras_mixkd.training.config import trained_loss
from keras_mixkd.training.config import upgrade_record
from keras_mixkd.training.weights import build_model
from keras_mixkd.training.weights import check_model_file

#: Test images timed one at a time (batch 1) for the latency.
LATENCY_IMAGES = 100


def run_record(weights):
    """The ``config.json`` of the run folder holding a checkpoint, or None.

    A checkpoint at ``<run>/checkpoints/best.keras`` has its run's
    configuration at ``<run>/config.json``; a file elsewhere, at
    ``config.json`` beside it.
    """
    path = pathlib.Path(weights).parent
    if path.name == "checkpoints":
        path = path.parent
    path = path / "config.json"
    if not path.is_file():
        return None
    return upgrade_record(json.loads(path.read_text()))


def resolve_trained_outputs(record, loss=None, temperature=None):
    """The loss and temperature that fix a model's probabilities (see
    `keras_mixkd.exporting.probabilities`): the run folder's, else the
    user's.

    Args:
        record: the model's run configuration (`run_record`), or None.
        loss: the loss given by the user (``--trained_loss``), or None.
        temperature: MIXSTD's base temperature given by the user
            (``--trained_temperature``), or None.

    Returns:
        ``(loss, temperature)``: the run's
        (`keras_mixkd.training.trained_loss`: ``"ce"`` for a model trained
        alone by train-teacher), else the given ones; a temperature only
        for a loss whose probabilities it changes (MIXSTD).

    Raises:
        ValueError: when the given loss or temperature contradicts the
            run's, or no loss is known (neither a run folder nor
            ``loss``).
    """
    if record is None:
        if loss is None:
            raise ValueError(
                "--outputs=probabilities needs the loss the model was "
                "trained with: the file is outside a run folder (no "
                "config.json beside it), so give --trained_loss="
                f"{'|'.join(exporting.TRAINING_LOSSES)}.")
        exporting.check_temperature(loss, temperature)
        return loss, temperature
    recorded, recorded_temperature = trained_loss(record)
    if loss is not None and loss != recorded:
        raise ValueError(
            f"--trained_loss={loss}, but the run folder's config.json says "
            f"the model was trained with loss {recorded!r}. Drop "
            "--trained_loss.")
    standardizes = isinstance(losses.student_loss(recorded),
                              losses.StdCrossEntropy)
    if not standardizes:
        exporting.check_temperature(recorded, temperature)
        return recorded, None
    tau = 1.0 if recorded_temperature is None else recorded_temperature
    if temperature is not None and float(temperature) != float(tau):
        raise ValueError(
            f"--trained_temperature={temperature}, but the run folder's "
            f"config.json says the {recorded} student was trained at "
            f"temperature {tau}. Drop --trained_temperature.")
    return recorded, recorded_temperature


def export_model(config):
    """Exports ``config.weights`` and measures the exported file.

    Args:
        config: an `keras_mixkd.exporting.ExportConfig` with ``weights`` (a
            ``.keras`` file), ``dataset`` (the training data: its mean,
            std, image size and class names go into the export; with
            ``image_size``, ``data_dir``), ``format``, ``quantize``,
            ``outputs`` and ``output`` set; for ``outputs="probabilities"``,
            ``trained_loss`` and, for a mixstd student,
            ``trained_temperature`` (required outside a run folder; else
            the run folder's: see `resolve_trained_outputs`).
            The digits split is drawn with the run's seed (from its
            config.json, else ``config.seed``).

    Returns:
        A dict: ``output``, ``format``, ``quantize``, ``outputs``, ``loss``
        (None for logits), ``temperature`` (of a mixstd student's
        probabilities, else None), ``size_bytes``, ``latency_ms`` (mean per image at
        batch 1), ``accuracy`` (of the exported file on the test split)
        and ``test_images``.

    Raises:
        ValueError: on a bad setting or a model that does not fit the data,
            before anything is written.
    """
    for name in ("weights", "format", "output"):
        if not getattr(config, name):
            raise ValueError(f"Missing --{name}.")
    if pathlib.Path(config.weights).suffix != ".keras":
        raise ValueError(f"--weights={config.weights}: export takes a "
                         ".keras file (a whole model).")
    check_model_file(config.weights, "weights")
    record = run_record(config.weights)
    loss, temperature = config.trained_loss, config.trained_temperature
    if config.outputs == "probabilities":
        loss, temperature = resolve_trained_outputs(record, loss,
                                                    temperature)
    elif loss is not None or temperature is not None:
        raise ValueError("--trained_loss and --trained_temperature apply to "
                         "--outputs=probabilities only.")
    seed = (record or {}).get("seed", config.seed)
    train_ds, test_ds, info = data.load(
        config.dataset, batch_size=config.batch_size,
        data_dir=config.data_dir, seed=seed, image_size=config.image_size,
        augment_train=False, channels=config.channels)
    model = build_model(None, config.weights, info, "model", "weights")
    path = exporting.export(
        model, config.output, format=config.format, info=info,
        outputs=config.outputs, loss=loss or "ce", quantize=config.quantize,
        representative_data=train_ds, temperature=temperature)
    batches = list(test_ds)  # one pass: images and labels stay paired
    labels = np.concatenate([np.asarray(y) for _, y in batches])
    images = exporting.raw_images(
        tf.data.Dataset.from_tensor_slices(
            np.concatenate([np.asarray(x) for x, _ in batches])).batch(256),
        info, limit=len(labels))
    predictions = exporting.run_exported(path, images, config.format,
                                         batch_size=config.batch_size)
    timing = exporting.measure(path, images[:LATENCY_IMAGES], config.format)
    return {"output": str(path), "format": config.format,
            "quantize": config.quantize, "outputs": config.outputs,
            "loss": loss, "temperature": temperature,
            "size_bytes": timing["size_bytes"],
            "latency_ms": timing["latency_ms"],
            "accuracy": float(np.mean(predictions.argmax(-1) == labels)),
            "test_images": len(images)}
