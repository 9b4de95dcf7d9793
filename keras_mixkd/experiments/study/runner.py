"""Runs a study's grid: trains and evaluates every unfinished teacher and cell.

The engine (`keras_mixkd.training`) trains each run in its own run folder;
this module walks a `keras_mixkd.experiments.study.Study` in grid order,
resumes what an interruption left, and writes each run's ``analysis.json``
(accuracy, smoothness and calibration on the test set, on the probabilities
the model was trained to produce: `keras_mixkd.experiments.evaluate`). One
line per run gives the overall progress: run k of N, the time elapsed and
the estimated time left (`keras_mixkd.experiments.progress`).

Example:

```python
from keras_mixkd import training
from keras_mixkd.experiments import study

grid = study.StudyGrid("digits", ["resnet14"], ["resnet8"], ["no"], ["no"],
                       ["4"], "fmu", {"epochs": 2})
config = training.RunConfig(dataset="digits", epochs=2, mixing="fmu")
study.run_study(study.Study("runs/study", grid), config)
```
"""

import dataclasses
import os

import numpy as np

from keras_mixkd import training
from keras_mixkd.experiments.evaluate import Evaluator
from keras_mixkd.experiments.evaluate import run_training_loss
from keras_mixkd.experiments.progress import Progress
from keras_mixkd.experiments.teacher import shared_teacher
from keras_mixkd.experiments.teacher import trained


def _analyse(evaluate, model, path, loss=None, seed=None,
             save_logits=False):
    """Evaluates a finished run and writes its ``analysis.json``."""
    measured = evaluate(model, loss, seed)
    logits = measured.pop("test_logits")
    if save_logits:
        np.save(path / "test_logits.npy", logits)
    training.write_json(training.RunFiles(path).analysis_file, measured)
    return measured


def _guarded(what, function, *args, **kwargs):
    """Runs a training function, naming the run in its errors."""
    try:
        return function(*args, **kwargs)
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from e


def ensure_teacher(study, spec, config, evaluate):
    """Trains (or resumes) a teacher unless done; evaluates it.

    Returns:
        Whether anything was trained or evaluated.
    """
    path = study.path(spec)
    if study.status(spec) == "done":
        return False
    alpha = study.grid.training["teacher_mixup_alpha"] if spec.mixup else 0.0
    model, _ = _guarded(f"teacher {spec.name}", shared_teacher,
                        dataclasses.replace(config, teacher=spec.arch,
                                            teacher_weights=None),
                        path, mixup_alpha=alpha)
    _analyse(evaluate, model, path, save_logits=True)  # cross-entropy
    return True


def ensure_cell(study, cell, config, evaluate):
    """Distils (or resumes) one cell unless done; evaluates its student.

    Returns:
        Whether anything was trained or evaluated.
    """
    path = study.path(cell)
    if study.status(cell) == "done":
        return False
    teacher_dir = study.path(cell.teacher)
    settings = cell.distill_flags()
    if settings["mixing"] == "none":  # inert there: the defaults
        settings.update({name: training.config.default(name) for name
                         in ("mixup_alpha", "mix_fraction", "mix_sampling")})
    if cell.seed is not None:
        settings["seed"] = cell.seed
    cell_config = dataclasses.replace(
        config, output_dir=str(path), teacher=cell.teacher.arch,
        student=cell.student,
        # Relative to the cell folder, so a moved study still resumes.
        teacher_weights=os.path.relpath(
            training.RunFiles(teacher_dir).last_checkpoint, path),
        **settings)
    model, _ = _guarded(
        f"cell {cell.name}", trained, cell_config, "distill",
        lambda own: training.distill(own, teacher=lambda info: (
            training.RunFiles(teacher_dir).load_last())))
    _analyse(evaluate, model, path, loss=run_training_loss(path),
             seed=cell.seed)
    return True


def run_study(study, config, log=print):
    """Trains and evaluates every unfinished run of a study, in grid order.

    Args:
        study: the `keras_mixkd.experiments.study.Study`.
        config: the `RunConfig` shared by its runs.
        log: called with a line of progress as each run starts: run k of
            N (the unfinished runs), elapsed, estimated time left.

    Returns:
        ``(runs_done_now, runs_skipped)``.
    """
    evaluate = Evaluator(config)
    runs = []
    for spec in study.grid.teacher_specs():
        runs.append((f"teacher {spec.name}", spec, ensure_teacher))
        runs += [(f"cell {cell.folder}", cell, ensure_cell)
                 for cell in study.grid.cells(spec)]
    todo = [run for run in runs if study.status(run[1]) != "done"]
    progress = Progress(len(todo), log)
    for what, run, ensure in todo:
        trained_only = study.status(run) == "trained"
        with progress.step(what + (", trained: evaluating only"
                                   if trained_only else "")):
            ensure(study, run, config, evaluate)
    return len(todo), len(runs) - len(todo)
