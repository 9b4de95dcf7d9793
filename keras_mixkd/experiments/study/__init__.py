"""The paper's study as a feature (``mixkd study``): teacher trained with or
without mixup x student distilled with or without mixup x temperature (1, 4,
or each network's logit std, the MIXSTD loss), optionally over seeds.

- `grid`: the grid, its teachers, cells and their names;
- `folder`: the study folder, which runs are done, the CSV tables and the
  statistics over seeds;
- `runner`: `run_study`, which trains, resumes and evaluates the runs.

Example:

```python
from keras_mixkd.experiments import study

grid = study.StudyGrid("digits", teachers=["resnet14"], students=["resnet8"])
folder = study.Study("runs/study", grid)
study.run_study(folder, config)
```
"""

from keras_mixkd.experiments.evaluate import ANALYSIS_KEYS
from keras_mixkd.experiments.evaluate import evaluate_logits
from keras_mixkd.training.json_file import write_json
from keras_mixkd.experiments.study.folder import BASELINE_TEMPERATURE
from keras_mixkd.experiments.study.folder import RESULT_COLUMNS
from keras_mixkd.experiments.study.folder import TEACHER_COLUMNS
from keras_mixkd.experiments.study.folder import Study
from keras_mixkd.experiments.study.folder import read_csv
from keras_mixkd.experiments.study.folder import seed_summaries
from keras_mixkd.experiments.study.folder import write_csv
from keras_mixkd.experiments.study.grid import STD
from keras_mixkd.experiments.study.grid import Cell
from keras_mixkd.experiments.study.grid import StudyGrid
from keras_mixkd.experiments.study.grid import TeacherSpec
from keras_mixkd.experiments.study.grid import parse_switch
from keras_mixkd.experiments.study.grid import parse_temperature
from keras_mixkd.experiments.study.grid import temperature_key
from keras_mixkd.experiments.study.grid import yes_no
from keras_mixkd.experiments.study.runner import ensure_cell
from keras_mixkd.experiments.study.runner import ensure_teacher
from keras_mixkd.experiments.study.runner import run_study
