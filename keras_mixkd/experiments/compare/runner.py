"""Compare student training methods over seeds, against one teacher.

`compare` trains (or loads) one teacher, then each method (a name of
`keras_mixkd.experiments.compare.METHODS`, or one the user defines by its
settings) once per seed, from the same base
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
mid-training), so adding seeds or methods trains only those. One line per
run gives the overall progress (`keras_mixkd.experiments.progress`).

Example:

```python
config = RunConfig(dataset="digits", teacher="resnet14", student="resnet8",
                   epochs=8, output_dir="runs/compare-digits")
summary = compare(config, methods=("alone", "kd", "mixkd"), seeds=3)
summary["methods"]["mixkd"]["diff_ci95"]
summary = compare(config, methods=("kd", "kd_w9"), seeds=3,
                  custom={"kd_w9": {"loss": "kd", "kd_weight": 9.0}})
```
"""

from keras_mixkd import training
from keras_mixkd.experiments.compare import results
from keras_mixkd.experiments.compare.folder import ComparisonFolder
from keras_mixkd.experiments.compare.folder import base_record
from keras_mixkd.experiments.compare.methods import CUSTOM_KEYS
from keras_mixkd.experiments.compare.methods import DEFAULT_METHODS
from keras_mixkd.experiments.compare.methods import METHODS
from keras_mixkd.experiments.compare.methods import UNRECORDED_DEFAULTS
from keras_mixkd.experiments.compare.methods import check_request
from keras_mixkd.experiments.compare.methods import run_config
from keras_mixkd.experiments.evaluate import Evaluator
from keras_mixkd.experiments.evaluate import run_training_loss
from keras_mixkd.training.json_file import write_json
from keras_mixkd.experiments.progress import Progress
from keras_mixkd.experiments.teacher import shared_teacher
from keras_mixkd.experiments.teacher import trained
from keras_mixkd.training.engine import check_model_name
from keras_mixkd.training.weights import check_model_file
from keras_mixkd.training.weights import check_model_source


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
        figures = {"teacher": config.teacher or model.name, **figures,
                   **_figures(evaluate, model, "ce", config.seed),
                   "num_classes": int(model.output_shape[-1])}
        figures.setdefault("test_accuracy", figures["eval_accuracy"])
        write_json(folder.root / "teacher.json", figures)
    return model


def run_one(folder, config, method, seed, teacher, evaluate, definition=None):
    """Trains (or resumes) one (method, seed) run and writes its result.

    Args:
        definition: the `Method` of a user-defined ``method`` (default:
            ``METHODS[method]``).

    Returns:
        The result row (a dict).
    """
    path = folder.run_path(method, seed)
    definition = definition or METHODS[method]
    run = run_config(config, definition, seed, path)
    if definition.distilled:
        model, summary = trained(run, "distill", lambda own: training.distill(
            own, teacher=teacher()))
    else:
        model, summary = trained(run, "train-teacher", training.train_teacher)
    row = {"method": method, "seed": seed, **_summary_figures(summary),
           **_figures(evaluate, model, run_training_loss(path), seed)}
    row["gap"] = row["train_accuracy"] - row["test_accuracy"]
    write_json(path / "result.json", row)
    return row


def _checked_runs(config, table, seed):
    """Applies each method to the base configuration with the engine's own
    checks, before any training.

    Returns:
        ``{name: settings}`` of the user-defined methods, resolved.
    """
    custom = {}
    for name, method in table.items():
        try:
            run = run_config(config, method, seed, "-")
            if method.distilled:
                run.check_distill()
            else:
                run.check_train_teacher()
        except ValueError as e:
            raise ValueError(f"Method {name}: {e}") from e
        if name not in METHODS:
            # Settings added later only where they differ from their
            # defaults, as folders recorded before them.
            custom[name] = {
                key: run.recorded(key) for key in CUSTOM_KEYS
                if key not in UNRECORDED_DEFAULTS
                or run.recorded(key) != UNRECORDED_DEFAULTS[key]}
    return custom


def compare(config, methods=DEFAULT_METHODS, seeds=1, baseline="kd",
            teacher_epochs=None, log=print, custom=None):
    """Runs every unfinished (method, seed) and summarises the folder.

    Args:
        config: the base `keras_mixkd.training.RunConfig`: ``teacher``,
            ``student``, ``dataset``, training settings; ``output_dir`` is
            the comparison folder; ``seed`` the first seed (and the
            teacher's).
        methods: names of `METHODS` or of ``custom``.
        seeds: number of seeds, ``config.seed .. config.seed + seeds - 1``.
        baseline: the method the others are paired against.
        teacher_epochs: the teacher's epochs (default ``config.epochs``).
        log: called with progress lines: one as each run starts, with
            run k of N, the time elapsed and the estimated time left.
        custom: user-defined methods, ``{name: {setting: value}}`` with the
            settings of `keras_mixkd.experiments.compare.CUSTOM_KEYS`
            (`keras_mixkd.experiments.compare.custom_method`); each must
            be among ``methods``. A folder refuses a name it ran with other
            settings.

    Returns:
        The summary (what ``summary.json`` holds).

    Raises:
        ValueError: on a bad request or configuration (before anything runs)
            or a folder holding another base configuration.
    """
    table = check_request(methods, baseline, seeds, custom)
    if not config.output_dir:
        raise ValueError("compare needs `output_dir` (the comparison "
                         "folder).")
    if not config.student:
        raise ValueError("Missing `student`.")
    if not (config.teacher or config.teacher_weights):
        raise ValueError("Missing `teacher` (an architecture to train), or "
                         "`teacher_weights` (a .keras file brings its "
                         "architecture).")
    seeds = list(range(config.seed, config.seed + int(seeds)))
    for name in ("teacher", "student"):
        if getattr(config, name):
            check_model_name(getattr(config, name), name)
    if config.teacher_weights:
        check_model_source(config.teacher, config.teacher_weights,
                           "teacher", "teacher_weights")
        check_model_file(config.teacher_weights, "teacher_weights")
    resolved = _checked_runs(config, table, seeds[0])
    folder = ComparisonFolder(config.output_dir,
                              base_record(config, teacher_epochs))
    folder.record_request(table, seeds, baseline, resolved)
    evaluate = Evaluator(config)
    teacher_model = []

    def teacher():
        if not teacher_model:
            log(f"== teacher {config.teacher or config.teacher_weights}")
            teacher_model.append(ensure_teacher(folder, config, evaluate,
                                                teacher_epochs))
        return teacher_model[0]

    pending = [(m, s) for m in table for s in seeds
               if folder.result(m, s) is None]
    progress = Progress(len(pending), log)
    if not (folder.root / "teacher.json").is_file():
        teacher()
    for method, seed in pending:
        with progress.step(f"{method}, seed {seed}"):
            run_one(folder, config, method, seed, teacher, evaluate,
                    table[method])
    summary = results.write(folder.root)
    for line in summary.get("warnings", ()):
        log(line)
    return summary
