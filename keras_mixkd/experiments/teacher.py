"""The teacher an experiment shares: loaded from weights, or trained once in
its own run folder (resumed after an interruption, reused once finished).

Example:

```python
model, summary = shared_teacher(config, "runs/compare/teacher")
summary["best_accuracy"]  # None in `summary` when loaded from weights
```
"""

import dataclasses

from keras_mixkd import training
from keras_mixkd.experiments import files
from keras_mixkd.training.engine import dataset_info


def trained(path, train):
    """``train()``, or the model and summary of the finished run folder.

    Args:
        path: the run folder.
        train: a function that trains the run and returns
            ``(model, summary)``; called only while the folder holds no
            ``summary.json`` (a run that has ended is not run again).

    Returns:
        ``(model, summary)``: the last checkpoint of a finished run.
    """
    summary = files.run_summary(path)
    if summary is None:
        return train()
    return files.load_last(path), summary


def shared_teacher(config, path, epochs=None, mixup_alpha=None):
    """The teacher of ``config``: from ``config.teacher_weights``, or
    trained (or resumed, or reused) in the run folder ``path``.

    Args:
        config: the base `keras_mixkd.training.RunConfig` (``teacher`` is
            the architecture, optional with a ``.keras`` ``teacher_weights``;
            the dataset and training settings apply).
        path: the teacher's run folder (unused with ``teacher_weights``).
        epochs: its epochs (default ``config.epochs``).
        mixup_alpha: the teacher's mixup Beta parameter (None or 0: none).

    Returns:
        ``(model, summary)``; ``summary`` is None for a teacher loaded
        from weights.
    """
    if config.teacher_weights:
        # As `mixkd distill` builds it: a .keras file brings its
        # architecture; with ``teacher``, its weights go into that one.
        return training.build_model(config.teacher, config.teacher_weights,
                                    dataset_info(config), "teacher",
                                    "teacher_weights"), None
    return trained(path, lambda: training.train_teacher(dataclasses.replace(
        config, model=config.teacher, mixup_alpha=mixup_alpha,
        output_dir=str(path), epochs=epochs or config.epochs)))
