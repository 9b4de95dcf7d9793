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
from keras_mixkd.exporting import model_file as exporting
from keras_mixkd.training.config import upgrade_record
from keras_mixkd.training.weights import build_model

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


def trained_loss(record, loss=None):
    """The loss that fixes the probabilities of a model (see
    `keras_mixkd.exporting.probabilities`).

    Args:
        record: the model's run configuration (`run_record`), or None.
        loss: the loss given by the user, or None.

    Returns:
        One of `keras_mixkd.exporting.TRAINING_LOSSES`: the run's
        (``"ce"`` for a model trained alone by train-teacher, or a student
        of a loss trained on the labels' plain softmax, such as dkd or
        dist), else ``loss``, else ``"ce"``.

    Raises:
        ValueError: when ``loss`` contradicts the run's.
    """
    if record is None:
        return loss or "ce"
    recorded = record.get("loss", "ce") if record.get(
        "command") == "distill" else "ce"
    if recorded not in exporting.TRAINING_LOSSES:
        recorded = "ce"
    if loss is not None and loss != recorded:
        raise ValueError(
            f"--trained_loss={loss}, but the run folder's config.json says "
            f"the model was trained with loss {record.get('loss', 'ce')!r} "
            f"(probabilities of loss {recorded!r}). Drop --trained_loss.")
    return recorded


def export_model(config):
    """Exports ``config.weights`` and measures the exported file.

    Args:
        config: an `keras_mixkd.exporting.ExportConfig` with ``weights`` (a
            ``.keras`` file), ``dataset`` (the training data: its mean,
            std, image size and class names go into the export; with
            ``image_size``, ``data_dir``), ``format``, ``quantize``,
            ``outputs`` and ``output`` set; for ``outputs="probabilities"``,
            ``trained_loss`` (None: the run folder's, see `trained_loss`).
            The digits split is drawn with the run's seed (from its
            config.json, else ``config.seed``).

    Returns:
        A dict: ``output``, ``format``, ``quantize``, ``outputs``, ``loss``
        (None for logits), ``size_bytes``, ``latency_ms`` (mean per image at
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
    record = run_record(config.weights)
    loss = config.trained_loss
    if config.outputs == "probabilities":
        loss = trained_loss(record, loss)
    elif loss is not None:
        raise ValueError("--trained_loss applies to --outputs=probabilities "
                         "only.")
    seed = (record or {}).get("seed", config.seed)
    train_ds, test_ds, info = data.load(
        config.dataset, batch_size=config.batch_size,
        data_dir=config.data_dir, seed=seed, image_size=config.image_size,
        augment_train=False)
    model = build_model(None, config.weights, info, "model", "weights")
    path = exporting.export(
        model, config.output, format=config.format, info=info,
        outputs=config.outputs, loss=loss or "ce", quantize=config.quantize,
        representative_data=train_ds)
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
            "loss": loss, "size_bytes": timing["size_bytes"],
            "latency_ms": timing["latency_ms"],
            "accuracy": float(np.mean(predictions.argmax(-1) == labels)),
            "test_images": len(images)}
