"""The settings of one export (``mixkd export``), as a frozen dataclass.

Export's settings belong to export: `keras_mixkd.training.RunConfig` holds
what a training run needs, `ExportConfig` what an export needs, each field
named like its ``mixkd export`` flag.

Example:

```python
config = ExportConfig(weights="runs/x/checkpoints/best.keras",
                      dataset="digits", format="litert",
                      output="out/student.tflite")
```
"""

import dataclasses

from keras_mixkd import data
from keras_mixkd.exporting.model_file import FORMATS
from keras_mixkd.exporting.model_file import OUTPUTS
from keras_mixkd.exporting.model_file import QUANTIZATIONS
from keras_mixkd.exporting.model_file import TRAINING_LOSSES
from keras_mixkd.training.config_rules import check_choice
from keras_mixkd.training.config_rules import parse_image_size


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """One export: which model, for which data, into which file.

    Args:
        weights: the ``.keras`` model file to export (a run folder's
            checkpoint, or any Keras model file).
        output: the SavedModel folder or ``.tflite`` file to write.
        format: ``"saved_model"`` or ``"litert"``.
        dataset: the training data (its mean, std, image size and class
            names go into the file; its test split measures the export).
        data_dir: tensorflow-datasets data directory.
        image_size: the model's input size, ``H``, ``(H, W)`` or ``"H,W"``
            (None: the dataset's).
        channels: the model's input channels: 1 reads the data as
            grayscale, 3 as RGB (None: as the data is).
        batch_size: batch size of the measurement.
        seed: the digits split's seed when the run's config.json is absent.
        quantize: LiteRT quantization: ``"none"``, ``"float16"``,
            ``"int8"``.
        outputs: ``"logits"`` or ``"probabilities"``.
        trained_loss: the loss the model was trained with (fixes its
            probabilities: `keras_mixkd.exporting.TRAINING_LOSSES`); None:
            the run folder's config.json says (outside a run folder it is
            required for probabilities).
        trained_temperature: the base temperature tau a ``"mixstd"``
            student was trained with (its probabilities are
            ``softmax(logits / (tau * std(logits)))``); None: the run
            folder's config.json says, else 1.
        calibrate: fit one temperature on held-out data by NLL and bake it
            into the probabilities: on the run's ``--validation_split``
            (from its config.json), or on ``calibration_dataset``.
        calibration_dataset: labelled images to calibrate on, a dataset
            name (all its images are used); never the export's own
            ``dataset``, whose test split measures the export.
        overwrite: replace an existing output (otherwise refused).

    Raises:
        ValueError: on a setting out of range.
    """

    weights: str = None
    output: str = None
    format: str = None
    dataset: str = "cifar100"
    data_dir: str = None
    image_size: tuple = None
    channels: int = None
    batch_size: int = 64
    seed: int = 0
    quantize: str = "none"
    outputs: str = "logits"
    trained_loss: str = None
    trained_temperature: float = None
    calibrate: bool = False
    calibration_dataset: str = None
    overwrite: bool = False

    def __post_init__(self):
        object.__setattr__(self, "image_size", parse_image_size(
            self.image_size))
        for name, choices in (("format", (None, *FORMATS)),
                              ("quantize", QUANTIZATIONS),
                              ("outputs", OUTPUTS),
                              ("trained_loss", (None, *TRAINING_LOSSES)),
                              ("channels", (None, *data.CHANNELS))):
            check_choice(name, getattr(self, name), choices)
        if self.trained_temperature is not None and not (
                self.trained_temperature > 0):
            raise ValueError(f"`trained_temperature` must be > 0, got "
                             f"{self.trained_temperature}.")
        if not int(self.batch_size) >= 1:
            raise ValueError(f"`batch_size` must be >= 1, got "
                             f"{self.batch_size}.")
        for name in ("dataset", "calibration_dataset"):
            try:
                if name == "dataset" or getattr(self, name) is not None:
                    data.check_name(getattr(self, name))
            except ValueError as e:
                raise ValueError(f"`{name}`: {e}") from e
        if self.calibrate and self.outputs != "probabilities":
            raise ValueError("`calibrate=True` calibrates probabilities: add "
                             "`outputs=probabilities`.")
        if self.calibration_dataset is not None and not self.calibrate:
            raise ValueError("`calibration_dataset` is the data of "
                             "`calibrate=True`: add `calibrate=True`.")
