"""Ship the student: SavedModel and LiteRT files that take raw images.

- `model_file`: `export` writes a model file with the normalisation inside
  (and the probabilities the student was trained to produce, if asked, at
  a calibrated temperature);
- `output`: the metadata file's name (`metadata_path`: ``student.json``
  beside ``student.tflite``, ``export.json`` inside a SavedModel folder)
  and the refusal to overwrite an export (`check_output`);
- `calibration`: `fit_calibration` fits the temperature on held-out data;
- `running`: `run_exported` and `measure` run and time an exported file;
- `config`: `ExportConfig`, the settings of one export;
- `run_export`: `export_model`, what ``mixkd export`` runs: a ``.keras`` file
  (a run folder's checkpoint) exported and measured.

Example:

>>> train_ds, test_ds, info = keras_mixkd.data.load("digits")
>>> keras_mixkd.export(student, "out/student.tflite", format="litert",
...                    info=info, quantize="int8",
...                    representative_data=train_ds)
"""

from keras_mixkd.exporting.calibration import fit_calibration
from keras_mixkd.exporting.config import ExportConfig
from keras_mixkd.exporting.model_file import CALIBRATION_IMAGES
from keras_mixkd.exporting.model_file import FORMATS
from keras_mixkd.exporting.model_file import OUTPUTS
from keras_mixkd.exporting.model_file import QUANTIZATIONS
from keras_mixkd.exporting.model_file import TRAINING_LOSSES
from keras_mixkd.exporting.model_file import check_temperature
from keras_mixkd.exporting.model_file import class_names
from keras_mixkd.exporting.model_file import export
from keras_mixkd.exporting.model_file import export_metadata
from keras_mixkd.exporting.model_file import probabilities
from keras_mixkd.exporting.model_file import raw_images
from keras_mixkd.exporting.model_file import serving_function
from keras_mixkd.exporting.output import EXPORT_JSON
from keras_mixkd.exporting.output import OutputExistsError
from keras_mixkd.exporting.output import check_output
from keras_mixkd.exporting.output import metadata_path
from keras_mixkd.exporting.running import file_size
from keras_mixkd.exporting.running import measure
from keras_mixkd.exporting.running import run_exported
from keras_mixkd.exporting.run_export import export_model
from keras_mixkd.exporting.run_export import run_record
from keras_mixkd.exporting.run_export import resolve_trained_outputs
