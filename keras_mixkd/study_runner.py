"""Runs a study's grid: trains and evaluates every unfinished teacher and cell.

The engine (`keras_mixkd.training`) trains each run in its own run folder;
this module walks a `keras_mixkd.study.Study` in grid order, resumes what an
interruption left, and writes each run's ``analysis.json`` (accuracy,
smoothness and calibration on the test set, on the probabilities the model
was trained to produce: `keras_mixkd.study.evaluate_logits`).

Example:

```python
from keras_mixkd import study, study_runner, training

grid = study.StudyGrid("digits", ["resnet14"], ["resnet8"], ["no"], ["no"],
                       ["4"], "fmu", {"epochs": 2})
config = training.RunConfig(dataset="digits", epochs=2, mixing="fmu")
study_runner.run_study(study.Study("runs/study", grid), config)
```
"""

import dataclasses
import os
import pathlib

import keras
import numpy as np
import tensorflow as tf

from keras_mixkd import analysis
from keras_mixkd import study as study_lib
from keras_mixkd import training
from keras_mixkd.training.engine import load_data

_CHECKPOINT = pathlib.Path("checkpoints") / "last.keras"


class _Evaluator:
    """Test-set analysis of finished runs (the test data loaded once per
    seed: the digits split depends on it)."""

    def __init__(self, config):
        self._config = config
        self._test_ds = {}

    def __call__(self, model, path, loss=None, save_logits=False, seed=None):
        seed = self._config.seed if seed is None else seed
        if seed not in self._test_ds:
            strategy = tf.distribute.get_strategy()
            _, self._test_ds[seed], *_ = load_data(
                dataclasses.replace(self._config, seed=seed), strategy)
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # predict_on_batch retracing warnings
        try:
            logits, labels = analysis.collect_logits(
                model, self._test_ds[seed], return_labels=True)
        finally:
            logger.setLevel(level)
        if save_logits:
            np.save(path / "test_logits.npy", logits.astype("float32"))
        measured = study_lib.evaluate_logits(logits, labels, loss)
        study_lib.write_json(path / "analysis.json", measured)
        return measured


def _guarded(what, function, *args, **kwargs):
    """Runs a training function, naming the run in its errors."""
    try:
        return function(*args, **kwargs)
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from e


def _load(path):
    return keras.saving.load_model(path / _CHECKPOINT, compile=False)


def ensure_teacher(study, spec, config, evaluate, log=print):
    """Trains (or resumes) a teacher unless done; evaluates it.

    Returns:
        Whether anything was trained or evaluated.
    """
    status, path = study.status(spec), study.path(spec)
    if status == "done":
        return False
    if status == "pending":
        log(f"\n== teacher {spec.name}")
        alpha = study.grid.training["teacher_mixup_alpha"] if spec.mixup else (
            0.0)
        model, _ = _guarded(f"teacher {spec.name}", training.train_teacher,
                            dataclasses.replace(
                                config, output_dir=str(path), model=spec.arch,
                                mixup_alpha=alpha))
    else:
        model = _load(path)
    evaluate(model, path, save_logits=True)  # trained with cross-entropy
    return True


def ensure_cell(study, cell, config, evaluate, log=print):
    """Distils (or resumes) one cell unless done; evaluates its student.

    Returns:
        Whether anything was trained or evaluated.
    """
    status, path = study.status(cell), study.path(cell)
    if status == "done":
        return False
    if status == "pending":
        log(f"\n== cell {cell.folder}")
        teacher_dir = study.path(cell.teacher)
        settings = cell.distill_flags()
        if settings["mixing"] == "none":  # inert there: the defaults
            settings.update({name: training.config.default(name) for name
                             in ("mixup_alpha", "mix_fraction",
                                 "mix_sampling")})
        if cell.seed is not None:
            settings["seed"] = cell.seed
        cell_config = dataclasses.replace(
            config, output_dir=str(path), teacher=cell.teacher.arch,
            student=cell.student,
            # Relative to the cell folder, so a moved study still resumes.
            teacher_weights=os.path.relpath(teacher_dir / _CHECKPOINT, path),
            **settings)
        model, _ = _guarded(f"cell {cell.name}", training.distill,
                            cell_config, teacher=lambda info: _load(
                                teacher_dir))
    else:
        model = _load(path)
    evaluate(model, path, loss=cell.distill_flags()["loss"], seed=cell.seed)
    return True


def run_study(study, config, log=print):
    """Trains and evaluates every unfinished run of a study, in grid order.

    Args:
        study: the `keras_mixkd.study.Study`.
        config: the `RunConfig` shared by its runs.
        log: prints a line of progress.

    Returns:
        ``(runs_done_now, runs_skipped)``.
    """
    evaluate = _Evaluator(config)
    done = skipped = 0
    for spec in study.grid.teacher_specs():
        ran = [ensure_teacher(study, spec, config, evaluate, log)]
        ran += [ensure_cell(study, cell, config, evaluate, log)
                for cell in study.grid.cells(spec)]
        done, skipped = done + sum(ran), skipped + ran.count(False)
    return done, skipped
