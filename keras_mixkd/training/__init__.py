"""The training engine: explicit configuration, resumable run folders.

Each command takes its own configuration, named like the ``mixkd`` flags:
`TeacherConfig` (`train_teacher`), `DistillConfig` (`distill`),
`EvaluateConfig` (`evaluate`) and `ConvertConfig`; `RunConfig` has every
command's fields, for what runs several. `train_teacher` and `distill` run
in a run folder that resumes after any interruption. The callbacks work in any ``fit``. `evaluate` measures a
trained file (`keras_mixkd.exporting.export_model` exports one for
deployment).

Example:

```python
from keras_mixkd import training

config = training.TeacherConfig(dataset="digits", model="resnet8",
                                epochs=2, output_dir="runs/teacher")
model, summary = training.train_teacher(config)
summary["best_accuracy"]
```
"""

from keras_mixkd.training.atomic import atomic_save
from keras_mixkd.training.atomic import atomic_write_text
from keras_mixkd.training.atomic import portable_copy
from keras_mixkd.training.callbacks import Backup
from keras_mixkd.training.callbacks import Checkpoints
from keras_mixkd.training.callbacks import MetricsLog
from keras_mixkd.training.callbacks import NaNGuard
from keras_mixkd.training.callbacks import RunTensorBoard
from keras_mixkd.training.callbacks import SyncReplicaStatistics
from keras_mixkd.training.command_config import COMMAND_CONFIGS
from keras_mixkd.training.command_config import ConvertConfig
from keras_mixkd.training.command_config import DistillConfig
from keras_mixkd.training.command_config import EvaluateConfig
from keras_mixkd.training.command_config import RuntimeConfig
from keras_mixkd.training.command_config import TeacherConfig
from keras_mixkd.training.command_config import TrainingConfig
from keras_mixkd.training.config import RunConfig
from keras_mixkd.training.config_rules import PRECISION_POLICIES
from keras_mixkd.training.config_rules import PRESETS
from keras_mixkd.training.config import trained_loss
from keras_mixkd.training.engine import distill
from keras_mixkd.training.engine import evaluate
from keras_mixkd.training.engine import train_teacher
from keras_mixkd.training.json_file import read_json
from keras_mixkd.training.json_file import write_json
from keras_mixkd.training.run_files import RunFiles
from keras_mixkd.training.run_folder import RunFolder
from keras_mixkd.training.run_folder import TrainingStopped
from keras_mixkd.training.run_folder import finished_run
from keras_mixkd.training.weights import build_model
from keras_mixkd.training.weights import copy_weights
from keras_mixkd.training.weights import load_weights
