"""The report of a study: heatmaps, tables and observations from its numbers.

`write` is what ``mixkd report STUDY_DIR`` (and the end of ``mixkd study``)
runs: it refreshes ``results.csv`` and ``teachers.csv``, draws
``figures/accuracy-<student>-<mixing>.png`` (rows teachers, columns
temperatures) and ``figures/teacher_smoothness.png``, and writes
``report.md`` with the observations `observations` computes. With several
seeds, each heatmap cell also shows its difference to the classic-KD cell
with its 95% interval, and the observations their intervals over seeds
(`keras_mixkd.experiments.report.study_statistics`).
"""

import numpy as np

from keras_mixkd import analysis
from keras_mixkd.experiments import chance
from keras_mixkd.experiments import statistics
from keras_mixkd.experiments import study as study_lib
from keras_mixkd.experiments.report.markdown import number
from keras_mixkd.experiments.report.markdown import percent
from keras_mixkd.experiments.report.markdown import table
from keras_mixkd.experiments.report.markdown import write_markdown
from keras_mixkd.experiments.report.study_statistics import interval_clause
from keras_mixkd.experiments.report.study_statistics import paired_difference
from keras_mixkd.experiments.report.study_statistics import seed_count
from keras_mixkd.experiments.report.study_statistics import seed_observation
from keras_mixkd.experiments.report.study_statistics import seed_section

#: What the notes under the heatmaps' means are (with several seeds).
NOTES_TITLE = "under each mean: minus the KD cell (plain, T=4), 95% CI"


def accuracy_grid(rows, student, student_mixup, teachers, temperatures,
                  key="last_accuracy"):
    """A teachers x temperatures array of one student setting, in percent.

    Args:
        rows: result rows (`Study.result_rows` or `study.read_csv`).
        student: student architecture.
        student_mixup: the student-mixup setting.
        teachers: `keras_mixkd.experiments.study.TeacherSpec`s (rows of the array).
        temperatures: the temperatures (columns).
        key: the row value shown (a fraction, multiplied by 100).

    Returns:
        A float array (the mean over a cell's seeds), NaN where no finished
        cell holds the value.
    """
    def mean(cell_rows):
        found = [r[key] for r in cell_rows if r.get(key) is not None]
        return 100.0 * float(np.mean(found)) if found else np.nan

    return _cell_grid(rows, student, student_mixup, teachers, temperatures,
                      mean, "float64")


def difference_notes(rows, student, student_mixup, teachers, temperatures):
    """The notes under an `accuracy_grid`'s cells: each cell minus its
    classic-KD cell, paired by seed, with its 95% interval.

    Args:
        rows: result rows.
        student: student architecture.
        student_mixup: the student-mixup setting.
        teachers: the `TeacherSpec`s (rows).
        temperatures: the temperatures (columns).

    Returns:
        A string array of the grid's shape: ``"KD cell"`` for the baseline
        of `study.seed_summaries`, ``"-0.81 [-1.90, +0.28]"`` (points,
        ``" *"`` added when the interval excludes 0) for the other cells,
        ``""`` where no cell or baseline finished; None for fewer than two
        seeds.
    """
    if seed_count(rows) < 2:
        return None
    entries = study_lib.seed_summaries(rows)

    def note(cell_rows):
        cell = cell_rows[0]["cell"] if cell_rows else None
        if cell not in entries:
            return ""
        if cell == entries[cell]["baseline"]:
            return "KD cell"
        return statistics.format_entry(entries[cell])[1]

    return _cell_grid(rows, student, student_mixup, teachers, temperatures,
                      note, "object")


def _cell_grid(rows, student, student_mixup, teachers, temperatures, reduce,
               dtype):
    """``reduce(rows of the cell, all seeds)`` per teacher and temperature
    of one student setting (``reduce([])`` where none finished)."""
    key_of = study_lib.temperature_key
    index = {}
    for r in rows:
        if (r["student"], r["student_mixup"]) == (student, student_mixup):
            index.setdefault((r["teacher"], r["teacher_mixup"],
                              key_of(r["temperature"])), []).append(r)
    values = np.empty((len(teachers), len(temperatures)), dtype=dtype)
    for i, spec in enumerate(teachers):
        for j, temperature in enumerate(temperatures):
            values[i, j] = reduce(index.get(
                (spec.arch, spec.mixup, key_of(temperature)), []))
    return values


def write_figures(study, rows):
    """Accuracy heatmaps (one per student and student-mixup setting: rows
    teachers, columns temperatures) and the teachers' smoothness histograms.

    Each heatmap cell shows the mean last-epoch accuracy over seeds and,
    with two seeds or more, its `difference_notes`.

    Args:
        study: the `keras_mixkd.experiments.study.Study`.
        rows: its result rows.

    Returns:
        The paths of the PNG files written, under ``<study>/figures``.
    """
    grid, figures = study.grid, study.root / "figures"
    specs, paths = grid.teacher_specs(), []
    columns = [f"T={study_lib.temperature_key(t)}" for t in grid.temperatures]
    for student in grid.students:
        for mixup in grid.student_mixup:
            values = accuracy_grid(rows, student, mixup, specs,
                                   grid.temperatures)
            if np.isnan(values).all():
                continue
            how = grid.mixing.upper() if mixup else "no mixup"
            path = figures / (f"accuracy-{student}-"
                              f"{grid.mixing if mixup else 'plain'}.png")
            notes = difference_notes(rows, student, mixup, specs,
                                     grid.temperatures)
            title = f"Student {student}, {how}" + (
                "" if notes is None else
                f", mean of {seed_count(rows)} seeds\n{NOTES_TITLE}")
            analysis.plot_heatmap(
                values, [s.label for s in specs], columns, path, title,
                "{:.1f}", xlabel="Temperature (std = MIXSTD)",
                ylabel="Teacher", colorbar_label="Last-epoch accuracy (%)",
                notes=notes)
            paths.append(path)
    logits = {s.label: np.load(study.path(s) / "test_logits.npy")
              for s in specs if (study.path(s) / "test_logits.npy").is_file()}
    if logits:
        path = figures / "teacher_smoothness.png"
        analysis.plot_smoothness_comparison(logits, path,
                                            "Teacher outputs on the test set")
        paths.append(path)
    return paths


def _versus(first, second, result):
    """``first`` against ``second`` from their `PairedDifference`."""
    diff, pairs, wins, losses = result[:4]
    if abs(diff) < 0.005:
        return (f"{first} and {second} are level ({pairs} paired cells"
                f"{interval_clause(result)})")
    leader, other = (first, second) if diff > 0 else (second, first)
    return (f"{leader} beats {other} by {abs(diff):.2f} points on average "
            f"(ahead in {wins if diff > 0 else losses} of {pairs} paired "
            f"cells{interval_clause(result, 1 if diff > 0 else -1)})")


def _t_label(temperature):
    if temperature == study_lib.STD:
        return "T=std (MIXSTD)"
    return f"T={study_lib.temperature_key(temperature)}"


def _teacher_observations(teacher_rows):
    lines = []
    by_spec = {(r["teacher"], r["teacher_mixup"]): r for r in teacher_rows}
    for arch in dict.fromkeys(r["teacher"] for r in teacher_rows):
        mix, plain = by_spec.get((arch, True)), by_spec.get((arch, False))
        if not (mix and plain):
            continue
        smoother = mix["logit_std_mean"] < plain["logit_std_mean"]
        lines.append(
            f"Mixup-trained {arch} teachers are "
            f"{'smoother' if smoother else 'not smoother'} than plain ones: "
            f"mean logit std {mix['logit_std_mean']:.3f} vs "
            f"{plain['logit_std_mean']:.3f}, entropy "
            f"{mix['entropy_mean']:.3f} vs {plain['entropy_mean']:.3f} nats, "
            f"confidence {mix['confidence_mean']:.3f} vs "
            f"{plain['confidence_mean']:.3f}; accuracy "
            f"{percent(mix['last_accuracy'])}% vs "
            f"{percent(plain['last_accuracy'])}%, ECE {percent(mix['ece'])}% "
            f"vs {percent(plain['ece'])}%.")
    return lines


def num_classes(study):
    """A study's number of classes, from a teacher's saved test logits
    (None before any teacher is done)."""
    for spec in study.grid.teacher_specs():
        path = study.path(spec) / "test_logits.npy"
        if path.is_file():
            return int(np.load(path, mmap_mode="r").shape[-1])
    return None


def observations(rows, teacher_rows, num_classes=None):
    """Short findings computed from a study's results (nothing hard-coded).

    Args:
        rows: result rows (one per finished cell).
        teacher_rows: teacher rows.
        num_classes: the number of classes (`num_classes`), for the
            warnings of results near chance (None: none).

    Returns:
        A list of sentences, warnings first; comparisons the grid cannot
        make are left out.
    """
    lines = chance.warnings(
        {f"{r['teacher']} ({'mixup' if r['teacher_mixup'] else 'plain'})":
         r.get("last_accuracy") for r in teacher_rows},
        {r["cell"]: r.get("last_accuracy") for r in rows}, num_classes,
        subject="cell")
    lines += _teacher_observations(teacher_rows)
    key = study_lib.temperature_key
    temps = sorted({r["temperature"] for r in rows} - {study_lib.STD})
    pairs = [(study_lib.STD, t) for t in temps]
    if len(temps) > 1:
        pairs.insert(0, (temps[0], temps[-1]))
    low_vs_high = {}
    for mixup in (True, False):
        teachers = "mixup-trained" if mixup else "plain"

        def of_teachers(row, mixup=mixup):
            return row["teacher_mixup"] == mixup

        for a, b in pairs:
            result = paired_difference(rows, "temperature", a, b, of_teachers)
            if result:
                if (a, b) == pairs[0] and len(temps) > 1:
                    low_vs_high[mixup] = result.mean
                versus = _versus(_t_label(a), _t_label(b), result)
                lines.append(f"With {teachers} teachers, {versus}.")
        result = paired_difference(rows, "student_mixup", True, False,
                                   of_teachers)
        if result:
            versus = _versus("distilling with mixup",
                             "distilling without mixup", result)
            lines.append(f"With {teachers} teachers, {versus}.")
    if len(low_vs_high) == 2:
        low, high = key(temps[0]), key(temps[-1])
        larger = low_vs_high[True] > low_vs_high[False]
        lines.append(
            f"T={low} minus T={high} is {'larger' if larger else 'smaller'} "
            f"with mixup-trained teachers ({low_vs_high[True]:+.2f} vs "
            f"{low_vs_high[False]:+.2f} points with plain ones); the paper's "
            "over-smoothing argument predicts larger.")
    result = paired_difference(rows, "teacher_mixup", True, False)
    if result:
        versus = _versus("a mixup teacher", "a plain teacher", result)
        lines.append(f"Over the grid, {versus}.")
    over_seeds = seed_observation(rows)
    if over_seeds:
        lines.append(over_seeds)
    rows = [r for r in rows if r["last_accuracy"] is not None
            and r["ece"] is not None]
    if rows:
        best = max(rows, key=lambda r: r["last_accuracy"])
        calm = min(rows, key=lambda r: r["ece"])
        lines.append(f"Best cell: {best['cell']} at "
                     f"{percent(best['last_accuracy'])}%; best calibrated: "
                     f"{calm['cell']} (ECE {percent(calm['ece'])}%).")
    return lines


def results_table(rows):
    """A Markdown table of the cells' accuracy (one row per seed)."""
    return table(
        ["teacher", "teacher mixup", "student", "student mixing", "T", "seed",
         "teacher acc. %", "best acc. %", "last acc. %"],
        [[r["teacher"], study_lib.yes_no(r["teacher_mixup"]), r["student"],
          r["student_mixing"], study_lib.temperature_key(r["temperature"]),
          r.get("seed"), percent(r["teacher_accuracy"]),
          percent(r["best_accuracy"]), percent(r["last_accuracy"])]
         for r in rows])


def _smoothness_rows(rows, first):
    return [[*first(r), number(r["logit_std_mean"]),
             number(r["entropy_mean"]), number(r["confidence_mean"]),
             percent(r["ece"]), number(r["nll"]), number(r["brier"])]
            for r in rows]


_SMOOTH_HEADER = ["logit std", "entropy", "confidence", "ECE %", "NLL",
                  "Brier"]


def write(root):
    """Writes ``<root>/report.md`` of a study, with its tables and figures.

    Args:
        root: the study folder.

    Returns:
        The path of ``report.md``.

    Example:

    >>> write("runs/study-digits")
    """
    study = study_lib.Study.load(root)
    rows, teacher_rows = study.write_tables()
    figures = write_figures(study, rows)
    grid = study.grid.to_dict()
    cells = study.grid.cells()
    text = [f"# MIX-KD study on {grid['dataset']}", "",
            f"{len(rows)} of {len(cells)} cells finished. Grid: teachers "
            f"{', '.join(grid['teachers'])} (mixup: "
            f"{', '.join(grid['teacher_mixup'])}); students "
            f"{', '.join(grid['students'])} (mixup: "
            f"{', '.join(grid['student_mixup'])}, mixing {grid['mixing']}); "
            f"temperatures {', '.join(grid['temperatures'])}. Settings: "
            + ", ".join(f"{k}={v}" for k, v in grid["training"].items()
                        if v is not None) + ".", "",
            "Accuracies are clean test accuracy of the last epoch"
            + ("; one seed, so differences of a few tenths of a point may be"
               " noise." if study.grid.seeds == 1 else
               f", over {study.grid.seeds} seeds per cell.") + "", "",
            "## Observations", ""]
    text += [f"- {line}" for line in observations(
        rows, teacher_rows, num_classes(study))]
    text += ["", "## Student accuracy", ""]
    text += [f"![{p.stem}](figures/{p.name})" for p in figures
             if p.name.startswith("accuracy-")]
    if seed_count(rows) > 1:
        text += ["", "Each heatmap shows the mean over seeds and, under it, "
                 "the cell minus the classic-KD cell (no student mixup, T=4) "
                 "of the same teacher and student, paired by seed, in points "
                 "with its 95% interval; * marks an interval that excludes "
                 "0."]
    teachers = _smoothness_rows(teacher_rows, lambda r: [
        r["teacher"], study_lib.yes_no(r["teacher_mixup"]),
        percent(r["last_accuracy"])])
    students = _smoothness_rows(rows, lambda r: [
        r["cell"], percent(r["last_accuracy"])])
    if study.grid.seeds > 1 or any(r.get("seed") != study.grid.base_seed
                                   for r in rows):
        text += ["", "## Over seeds", "", *seed_section(rows)]
    text += ["", results_table(rows), "", "## Teachers", "",
             table(["teacher", "mixup", "acc. %", *_SMOOTH_HEADER], teachers),
             ""]
    text += [f"![teacher smoothness](figures/{p.name})" for p in figures
             if p.name == "teacher_smoothness.png"]
    text += ["", "## Students: smoothness and calibration", "",
             table(["cell", "acc. %", *_SMOOTH_HEADER], students), "",
             "Entropy, confidence, ECE, NLL and Brier are computed on the "
             "probabilities each model was trained to produce: "
             "softmax(logits / std(logits)) for the T=std (MIXSTD) cells, "
             "softmax(logits) otherwise; each run's analysis.json also holds "
             "the raw softmax's ECE and NLL (ece_raw, nll_raw). The logit std "
             "is that of the raw logits.", ""]
    pending = [c.name for c in cells if study.status(c) != "done"]
    if pending:
        text += [f"Unfinished cells: {', '.join(pending)}.", ""]
    return write_markdown(study.root, text)
