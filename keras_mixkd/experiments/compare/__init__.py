"""Student training methods over seeds against one teacher (``mixkd
compare``), with paired confidence intervals.

- `methods`: the named methods (`METHODS`) and a run's configuration;
- `folder`: the comparison folder and the base configuration it is bound to;
- `runner`: `compare`, which trains, resumes and evaluates the runs;
- `results`: ``results.csv`` and ``summary.json``.

Example:

```python
from keras_mixkd.experiments import compare

summary = compare.compare(config, methods=("alone", "kd", "mixkd"), seeds=3)
summary["methods"]["mixkd"]["diff_ci95"]
```
"""

from keras_mixkd.experiments.compare import results
from keras_mixkd.experiments.compare.folder import ComparisonFolder
from keras_mixkd.experiments.compare.folder import base_record
from keras_mixkd.experiments.compare.methods import DEFAULT_METHODS
from keras_mixkd.experiments.compare.methods import METHODS
from keras_mixkd.experiments.compare.methods import PER_RUN_KEYS
from keras_mixkd.experiments.compare.methods import Method
from keras_mixkd.experiments.compare.methods import check_request
from keras_mixkd.experiments.compare.methods import run_config
from keras_mixkd.experiments.compare.runner import compare
from keras_mixkd.experiments.compare.runner import ensure_teacher
from keras_mixkd.experiments.compare.runner import run_one
