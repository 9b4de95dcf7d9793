"""Reports: one Markdown report of a run, a study or a folder of runs.

    mixkd report runs/study-digits        # a study of 'mixkd study'
    mixkd report runs/quickstart/kd       # one run folder
    mixkd report runs/quickstart          # a folder of run folders
    mixkd report runs/compare-digits      # a comparison of 'mixkd compare'

Writes ``report.md`` in the folder, with its figures (PNG) beside it: for a
run, its configuration, summary, per-epoch metrics and training curves; for a
study, the results, the accuracy heatmaps, the teachers' smoothness, the
students' calibration and observations computed from the numbers
(`keras_mixkd.experiments.report.study_report`). A comparison folder gets its
``results.csv``, ``summary.json``, ``summary.md`` and ``comparison.png``
(`keras_mixkd.experiments.report.compare_report`).

Example:

```python
from keras_mixkd.experiments import report

report.write_report("runs/quickstart")  # runs/quickstart/report.md
```
"""

import pathlib

from keras_mixkd.experiments.report import compare_report
from keras_mixkd.experiments.report import study_report
from keras_mixkd.experiments.report.markdown import number
from keras_mixkd.experiments.report.markdown import percent
from keras_mixkd.experiments.report.markdown import table
from keras_mixkd.experiments.report.markdown import write_markdown
from keras_mixkd.experiments.report.run_report import folder_report
from keras_mixkd.experiments.report.run_report import run_report
from keras_mixkd.experiments.report.study_report import write as study_report_write
from keras_mixkd.training.run_files import RunFiles


def write_report(path):
    """Writes ``report.md`` for a study, a run, or a folder of runs (for a
    comparison folder, ``summary.md`` and the files beside it).

    Args:
        path: the folder.

    Returns:
        The path of ``report.md`` (``summary.md``).

    Raises:
        ValueError: when the folder holds none of these.

    Example:

    >>> write_report("runs/quickstart")
    """
    root = pathlib.Path(path)
    if (root / "compare.json").is_file():
        return compare_report.write(root)
    if (root / "study.json").is_file():
        return study_report_write(root)
    if RunFiles.is_run_folder(root):
        return run_report(root)
    runs = sorted((RunFiles(p).config_file
                   for p in (root.iterdir() if root.is_dir() else ())
                   if RunFiles.is_run_folder(p)),
                  key=lambda p: p.stat().st_mtime)
    if runs:
        return folder_report(root, [p.parent for p in runs])
    raise ValueError(
        f"{root} holds no run: expected a comparison folder (compare.json), "
        "a study folder (study.json), a run "
        "folder (config.json) or a folder of run folders, as written by "
        "'mixkd study', 'mixkd train-teacher' / 'mixkd distill' or "
        "'mixkd quickstart'.")
