"""Compare student training methods over seeds, against one teacher.

`compare` trains (or loads) one teacher, then each method of
`keras_mixkd.experiments.compare.METHODS` once per seed, from the same base
`keras_mixkd.training.RunConfig`; every run is a resumable run folder of the
engine. Each finished run is evaluated (`keras_mixkd.experiments.evaluate`:
clean test and training-set accuracy, calibration on the probabilities the
student was trained to produce) and the folder is summarised in
``results.csv`` and ``summary.json`` (`results`, with
`keras_mixkd.experiments.statistics`);
`keras_mixkd.experiments.report.write_report` adds ``summary.md`` and
``comparison.png`` (``mixkd compare`` does both). The folder's layout is
`keras_mixkd.experiments.compare.folder`'s.

A (method, seed) run is finished once its ``result.json`` exists; calling
`compare` again runs only the unfinished ones (resuming a run stopped
mid-training), so adding seeds or methods trains only those.

Example:

```python
config = RunConfig(dataset="digits", teacher="resnet14", student="resnet8",
                   epochs=8, output_dir="runs/compare-digits")
summary = compare(config, methods=("alone", "kd", "mixkd"), seeds=3)
summary["methods"]["mixkd"]["diff_ci95"]
```
"""

from keras_mixkd import training
from keras_mixkd.experiments.compare import results
from keras_mixkd.experiments.compare.folder import ComparisonFolder
from keras_mixkd.experiments.compare.folder import base_record
from keras_mixkd.experiments.compare.methods import DEFAULT_METHODS
from keras_mixkd.experiments.compare.methods import METHODS
from keras_mixkd.experiments.compare.methods import check_request
from keras_mixkd.experiments.compare.methods import run_config
from keras_mixkd.experiments.evaluate import Evaluator
from keras_mixkd.experiments.evaluate import run_training_loss
from keras_mixkd.experiments.files import write_json
from keras_mixkd.experiments.teacher import shared_teacher
from keras_mixkd.experiments.teacher import trained
from keras_mixkd.training.engine import check_model_name


def _figures(evaluate, model, loss, seed):
    """A run's evaluation as `results.RESULT_COLUMNS` name it."""
    measured = evaluate(model, loss, seed, train_accuracy=True)
    return {"eval_accuracy": measured["accuracy"],
            "train_accuracy": measured["train_accuracy"],
            **{k: measured[k] for k in ("ece", "nll", "ece_raw", "nll_raw")}}


def _summary_figures(summary):
    return {"best_accuracy": summary["best_accuracy"],
            "test_accuracy": summary["last_accuracy"],
            "epochs": summary.get("epochs"),
            "wall_s": summary.get("wall_time_s")}


def ensure_teacher(folder, config, evaluate, teacher_epochs=None):
    """The comparison's teacher (`keras_mixkd.experiments.teacher`), its
    figures written to ``teacher.json`` once.

    Returns:
        The teacher model.
    """
    model, summary = shared_teacher(config, folder.root / "teacher",
                                    epochs=teacher_epochs)
    if not (folder.root / "teacher.json").is_file():
        figures = ({"weights": str(config.teacher_weights)} if summary is None
                   else _summary_figures(summary))
        figures = {"teacher": config.teacher, **figures,
                   **_figures(evaluate, model, "ce", config.seed)}
        figures.setdefault("test_accuracy", figures["eval_accuracy"])
        write_json(folder.root / "teacher.json", figures)
    return model


def run_one(folder, config, method, seed, teacher, evaluate):
    """Trains (or resumes) one (method, seed) run and writes its result.

    Returns:
        The result row (a dict).
    """
    path = folder.run_path(method, seed)
    run = run_config(config, method, seed, path)
    if METHODS[method].distilled:
        model, summary = trained(
            path, lambda: training.distill(run, teacher=teacher()))
    else:
        model, summary = trained(path, lambda: training.train_teacher(run))
    row = {"method": method, "seed": seed, **_summary_figures(summary),
           **_figures(evaluate, model, run_training_loss(path), seed)}
    row["gap"] = row["train_accuracy"] - row["test_accuracy"]
    write_json(path / "result.json", row)
    return row


def compare(config, methods=DEFAULT_METHODS, seeds=1, baseline="kd",
            teacher_epochs=None, log=print):
    """Runs every unfinished (method, seed) and summarises the folder.

    Args:
        config: the base `keras_mixkd.training.RunConfig`: ``teacher``,
            ``student``, ``dataset``, training settings; ``output_dir`` is
            the comparison folder; ``seed`` the first seed (and the
            teacher's).
        methods: names of `METHODS`.
        seeds: number of seeds, ``config.seed .. config.seed + seeds - 1``.
        baseline: the method the others are paired against.
        teacher_epochs: the teacher's epochs (default ``config.epochs``).
        log: called with progress lines.

    Returns:
        The summary (what ``summary.json`` holds).

    Raises:
        ValueError: on a bad request or configuration (before anything runs)
            or a folder holding another base configuration.
    """
    methods = check_request(methods, baseline, seeds)
    if not config.output_dir:
        raise ValueError("compare needs an output_dir (the comparison "
                         "folder).")
    for name in ("teacher", "student"):
        if not getattr(config, name):
            raise ValueError(f"Missing --{name}.")
    seeds = list(range(config.seed, config.seed + int(seeds)))
    for name in ("teacher", "student"):
        check_model_name(getattr(config, name), name)
    for method in methods:  # the engine's own checks, before any training
        run = run_config(config, method, seeds[0], "-")
        if METHODS[method].distilled:
            run.check_distill()
        else:
            run.check_train_teacher()
    folder = ComparisonFolder(config.output_dir,
                              base_record(config, teacher_epochs))
    folder.record_request(methods, seeds, baseline)
    evaluate = Evaluator(config)
    teacher_model = []

    def teacher():
        if not teacher_model:
            log(f"== teacher {config.teacher}")
            teacher_model.append(ensure_teacher(folder, config, evaluate,
                                                teacher_epochs))
        return teacher_model[0]

    pending = [(m, s) for m in methods for s in seeds
               if folder.result(m, s) is None]
    if not (folder.root / "teacher.json").is_file():
        teacher()
    for i, (method, seed) in enumerate(pending):
        log(f"== {method}, seed {seed} ({i + 1} of {len(pending)} to run)")
        run_one(folder, config, method, seed, teacher, evaluate)
    return results.write(folder.root)
