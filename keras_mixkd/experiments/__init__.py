"""Experiments: resumable folders of runs over seeds, their statistics and
reports.

- `compare`: student methods over seeds against one teacher
  (``mixkd compare``);
- `study`: the paper's teacher-mixup x student-mixup x temperature grid
  (``mixkd study``);
- `evaluate`: the one evaluator of finished runs; `teacher`: the one shared
  teacher (trained once or loaded);
- `statistics` (paired Student-t intervals), `chance` (warnings of results
  near chance, 1/K), `tables` (CSV), `files` (what an experiment folder says
  of settings that changed);
- `report`: Markdown reports and figures (``mixkd report``).

Each experiment is a folder of engine run folders (`keras_mixkd.training`)
that resumes where it stopped and is summarised from its CSV files, so every
figure can be recomputed from ``results.csv``.

Example:

```python
from keras_mixkd import training
from keras_mixkd.experiments import compare

config = training.RunConfig(dataset="digits", teacher="resnet14",
                            student="resnet8", epochs=4,
                            output_dir="runs/compare-digits")
compare.compare(config, methods=("kd", "mixkd"), seeds=2)
```
"""

from keras_mixkd.experiments import chance
from keras_mixkd.experiments import compare
from keras_mixkd.experiments import files
from keras_mixkd.experiments import report
from keras_mixkd.experiments import statistics
from keras_mixkd.experiments import study
from keras_mixkd.experiments import tables
