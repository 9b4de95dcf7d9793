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
from keras_mixkd.training.engine import dataset_info


def trained(config, command, train):
    """``train(config)``, or the model and summary of the run ``config``
    already finished in its folder (``config.output_dir``), with the
    command's own configuration (`RunConfig.for_command`).

    One rule says whether a run is finished, the engine's own
    (`keras_mixkd.training.finished_run`, `RunFolder.finished`): this
    configuration's run, all its epochs done, no backup waiting. So a
    finished run is not trained again, nor is its teacher built, and a
    folder holding another configuration's run is refused, not reused.

    Args:
        config: the run's `keras_mixkd.training.RunConfig` (or the
            command's configuration).
        command: ``"train-teacher"`` or ``"distill"``.
        train: a function of the command's configuration that trains (or
            resumes) the run and returns ``(model, summary)``.

    Returns:
        ``(model, summary)``: for a finished run, its last checkpoint.

    Raises:
        ValueError: the folder holds another configuration's run.
    """
    if isinstance(config, training.RunConfig):
        config = config.for_command(command)
    done = training.finished_run(config, command, config.output_dir)
    return train(config) if done is None else done


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
    run = dataclasses.replace(
        config, model=config.teacher, mixup_alpha=mixup_alpha,
        output_dir=str(path), epochs=epochs or config.epochs)
    return trained(run, "train-teacher", training.train_teacher)
