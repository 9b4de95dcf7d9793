"""Exporting a trained ``.keras`` model for deployment, and measuring it.

`export_model` is what ``mixkd export`` runs: it loads a ``.keras`` file
(a checkpoint of a run folder, or any Keras model file), writes a SavedModel
or LiteRT file that takes raw ``uint8`` images (`keras_mixkd.export`), and
measures the file: size, mean latency per image, and test accuracy of the
exported artefact itself on the dataset's test split (and, for
probabilities, their expected calibration error there). With ``calibrate``
it first fits a temperature on held-out images: the run's
``--validation_split`` or a ``calibration_dataset``, never the test split.

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

import pathlib

import numpy as np
import tensorflow as tf

from keras_mixkd import analysis
from keras_mixkd import data
from keras_mixkd import losses
from keras_mixkd.exporting import model_file as exporting
from keras_mixkd.exporting.calibration import fit_calibration
from keras_mixkd.exporting.output import check_output
from keras_mixkd.exporting.output import metadata_path
from keras_mixkd.exporting.running import measure
from keras_mixkd.exporting.running import run_exported
from keras_mixkd.training.config import trained_loss
from keras_mixkd.training.run_files import RunFiles
from keras_mixkd.training.weights import build_model
from keras_mixkd.training.weights import check_model_file

#: Test images timed one at a time (batch 1) for the latency.
LATENCY_IMAGES = 100


def run_record(weights):
    """The ``config.json`` of the run folder holding a checkpoint, or None.

    A checkpoint at ``<run>/checkpoints/best.keras`` has its run's
    configuration at ``<run>/config.json``; a file elsewhere, at
    ``config.json`` beside it (`RunFiles.of_checkpoint`).
    """
    return RunFiles.of_checkpoint(weights).record()


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
                "`outputs=probabilities` needs the loss the model was "
                "trained with: the file is outside a run folder (no "
                "config.json beside it), so give `trained_loss`: one of "
                f"{', '.join(exporting.TRAINING_LOSSES)}.")
        exporting.check_temperature(loss, temperature)
        return loss, temperature
    recorded, recorded_temperature = trained_loss(record)
    if loss is not None and loss != recorded:
        raise ValueError(
            f"`trained_loss={loss}`, but the run folder's config.json says "
            f"the model was trained with loss {recorded!r}. Drop "
            "`trained_loss`.")
    standardizes = isinstance(losses.student_loss(recorded),
                              losses.StdCrossEntropy)
    if not standardizes:
        exporting.check_temperature(recorded, temperature)
        return recorded, None
    tau = 1.0 if recorded_temperature is None else recorded_temperature
    if temperature is not None and float(temperature) != float(tau):
        raise ValueError(
            f"`trained_temperature={temperature}`, but the run folder's "
            f"config.json says the {recorded} student was trained at "
            f"temperature {tau}. Drop `trained_temperature`.")
    return recorded, recorded_temperature


def _same_dataset(first, second):
    """Whether two dataset names mean the same data (folders resolved)."""
    return data.resolved_name(first) == data.resolved_name(second)


def _held_out_split(config, record):
    """The run's ``validation_split``, or raises saying how to get one."""
    if record is None:
        raise ValueError(
            "`calibrate=True` needs held-out images, and `weights` is not in a "
            "run folder (no config.json) that has a validation split. Give "
            "`calibration_dataset=NAME`: labelled images the model was not "
            "trained on, and not `dataset` (whose test split measures the "
            "export).")
    if not record.get("validation_split"):
        raise ValueError(
            "`calibrate=True` needs held-out images, but the run was trained "
            "without `validation_split` (its config.json has none): every "
            "training image was trained on, and the test set only measures."
            " Train with `validation_split=0.1`, or give "
            "`calibration_dataset=NAME` (labelled images never trained on).")
    if not _same_dataset(record.get("dataset"), config.dataset):
        raise ValueError(
            f"`dataset={config.dataset}`, but the run was trained on "
            f"{record.get('dataset')}: its held-out split is in that data. "
            f"Give `dataset={record.get('dataset')}`.")
    return record["validation_split"]


def _calibration_dataset(config, info):
    """All images of ``calibration_dataset``, normalised like ``info``'s."""
    if _same_dataset(config.calibration_dataset, config.dataset):
        raise ValueError(
            f"`calibration_dataset={config.calibration_dataset}` is "
            "`dataset`, whose test split measures the export: calibrating on"
            " it would fit the temperature on the test set (and its training"
            " split was trained on). Give other labelled images, or train "
            "with `validation_split` and drop `calibration_dataset`.")
    train_ds, test_ds, other = data.load(
        config.calibration_dataset, batch_size=config.batch_size,
        data_dir=config.data_dir, image_size=info.image_shape[:2],
        augment_train=False, channels=(
            info.image_shape[-1] if info.image_shape[-1] in (1, 3)
            else None))
    if tuple(other.image_shape) != tuple(info.image_shape) or (
            other.num_classes != info.num_classes):
        raise ValueError(
            f"`calibration_dataset={config.calibration_dataset}` has "
            f"{other.num_classes} classes of {other.image_shape} images; the"
            f" model takes {info.num_classes} classes of {info.image_shape}.")
    if other.class_names and info.class_names and tuple(
            other.class_names) != tuple(info.class_names):
        raise ValueError(
            f"`calibration_dataset={config.calibration_dataset}`'s classes "
            f"{list(other.class_names)} are not `dataset`'s "
            f"{list(info.class_names)} (same names, same order).")
    # Back to pixels with its own mean and std, then normalised as the
    # model's training data.
    scale = np.asarray(other.std, "float32") / np.asarray(info.std, "float32")
    shift = (np.asarray(other.mean, "float32") - np.asarray(
        info.mean, "float32")) / np.asarray(info.std, "float32")
    return train_ds.concatenate(test_ds).map(
        lambda x, y: (x * scale + shift, y))


def _calibrate(config, record, model, splits, loss, temperature):
    """The fitted temperature and its record for the metadata file."""
    if config.calibration_dataset is not None:
        held_out = _calibration_dataset(config, splits.info)
        source = {"calibration_dataset": config.calibration_dataset}
    else:
        held_out = splits.validation
        source = {"dataset": config.dataset,
                  "validation_split": record["validation_split"],
                  "seed": record.get("seed", config.seed)}
    fitted = fit_calibration(model, held_out, loss, temperature)
    return fitted["temperature"], {**source, **fitted}


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
            the run folder's: see `resolve_trained_outputs`), and
            optionally ``calibrate`` (with ``calibration_dataset``) and
            ``overwrite``. The digits split (and a held-out split) is drawn
            with the run's seed (from its config.json, else ``config.seed``).

    Returns:
        A dict: ``output``, ``metadata`` (its metadata file), ``format``,
        ``quantize``, ``outputs``, ``loss`` (None for logits),
        ``temperature`` (of a mixstd student's probabilities, else None),
        ``calibration_temperature`` (the calibrated T, or None),
        ``size_bytes``, ``latency_ms`` (mean per image at batch 1),
        ``accuracy`` (of the exported file on the test split),
        ``test_images``; for probabilities ``ece`` (their expected
        calibration error on the test split, 15 bins) and
        ``mean_confidence``; when calibrated, ``calibration`` (the
        held-out data, its size, NLL before/after).

    Raises:
        ValueError: on a bad setting, a model that does not fit the data,
            an existing output without ``overwrite``, or ``calibrate``
            without held-out data, before anything is written.
    """
    for name in ("weights", "format", "output"):
        if not getattr(config, name):
            raise ValueError(f"Missing `{name}`.")
    if pathlib.Path(config.weights).suffix != ".keras":
        raise ValueError(f"`weights={config.weights}`: export takes a "
                         ".keras file (a whole model).")
    check_model_file(config.weights, "weights")
    record = run_record(config.weights)
    loss, temperature = config.trained_loss, config.trained_temperature
    if config.outputs == "probabilities":
        loss, temperature = resolve_trained_outputs(record, loss,
                                                    temperature)
    elif loss is not None or temperature is not None:
        raise ValueError("`trained_loss` and `trained_temperature` apply to "
                         "`outputs=probabilities` only.")
    held_out = None
    if config.calibrate and config.calibration_dataset is None:
        held_out = _held_out_split(config, record)
    check_output(config.output, config.format, config.overwrite)
    seed = (record or {}).get("seed", config.seed)
    splits = data.load_splits(
        config.dataset, batch_size=config.batch_size,
        data_dir=config.data_dir, seed=seed, image_size=config.image_size,
        train_size=(record or {}).get("train_size") if held_out else None,
        augment_train=False, channels=config.channels,
        validation_split=held_out)
    info = splits.info
    model = build_model(None, config.weights, info, "model", "weights")
    calibration_temperature, calibration = None, None
    if config.calibrate:
        calibration_temperature, calibration = _calibrate(
            config, record, model, splits, loss, temperature)
    path = exporting.export(
        model, config.output, format=config.format, info=info,
        outputs=config.outputs, loss=loss, quantize=config.quantize,
        representative_data=splits.train, temperature=temperature,
        calibration_temperature=calibration_temperature,
        overwrite=config.overwrite,
        metadata=None if calibration is None else {
            "calibration": calibration})
    batches = list(splits.test)  # one pass: images and labels stay paired
    labels = np.concatenate([np.asarray(y) for _, y in batches])
    images = exporting.raw_images(
        tf.data.Dataset.from_tensor_slices(
            np.concatenate([np.asarray(x) for x, _ in batches])).batch(256),
        info, limit=len(labels))
    predictions = run_exported(path, images, config.format,
                               batch_size=config.batch_size)
    timing = measure(path, images[:LATENCY_IMAGES], config.format)
    results = {"output": str(path),
               "metadata": str(metadata_path(path, config.format)),
               "format": config.format, "quantize": config.quantize,
               "outputs": config.outputs, "loss": loss,
               "temperature": temperature,
               "calibration_temperature": calibration_temperature,
               "size_bytes": timing["size_bytes"],
               "latency_ms": timing["latency_ms"],
               "accuracy": float(np.mean(predictions.argmax(-1) == labels)),
               "test_images": len(images)}
    if config.outputs == "probabilities":
        probs = np.asarray(predictions, "float64")
        probs = probs / probs.sum(axis=1, keepdims=True)  # int8 rounding
        results["ece"] = float(analysis.expected_calibration_error(
            labels, probs))
        results["mean_confidence"] = float(probs.max(axis=1).mean())
    if calibration is not None:
        results["calibration"] = calibration
    return results
