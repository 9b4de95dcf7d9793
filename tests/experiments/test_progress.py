"""Overall progress lines of long experiments (compare, study)."""

import functools

from keras_mixkd import training
from keras_mixkd.experiments import progress as progress_lib
from keras_mixkd.experiments.study import runner as study_runner
from keras_mixkd.experiments.study import Study
from keras_mixkd.experiments.study import StudyGrid


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_durations_read_as_seconds_minutes_or_hours():
    assert [progress_lib.format_duration(s) for s in
            (0, 41.6, 60, 185, 3599, 3600, 7620, 90061)] == [
        "0s", "42s", "1m 00s", "3m 05s", "59m 59s", "1h 00m", "2h 07m",
        "25h 01m"]


def test_the_estimate_is_the_mean_run_time_times_the_runs_left():
    clock, lines = FakeClock(), []
    progress = progress_lib.Progress(4, lines.append, clock)
    clock.now += 30  # e.g. the teacher: elapsed, but not a run
    with progress.step("a"):
        clock.now += 100
    with progress.step("b"):
        clock.now += 200
    with progress.step("c"):
        clock.now += 60
    assert progress.estimate_left() == (100 + 200 + 60) / 3 * 1
    assert lines == [
        "== run 1 of 4: a (elapsed 30s)",
        "== run 2 of 4: b (elapsed 2m 10s, about 5m 00s left)",
        "== run 3 of 4: c (elapsed 5m 30s, about 5m 00s left)"]
    assert progress.line("d") == (
        "== run 4 of 4: d (elapsed 6m 30s, about 2m 00s left)")


def test_a_run_that_fails_is_not_counted_as_finished():
    clock, lines = FakeClock(), []
    progress = progress_lib.Progress(2, lines.append, clock)
    try:
        with progress.step("a"):
            clock.now += 50
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert progress.durations == [] and progress.estimate_left() is None


def test_a_study_prints_one_line_per_unfinished_run(tmp_path, monkeypatch):
    grid = StudyGrid("digits", ["resnet14"], ["resnet8"], ["no"], ["no"],
                     ["1", "4", "std"], "fmu", {"epochs": 1})
    study = Study(tmp_path, grid)
    clock, lines, done = FakeClock(), [], []
    teacher, finished, trained, pending = [study.path(run) for run in (
        grid.teacher_specs()[0], *grid.cells())]
    for path in (finished, trained):  # what an earlier invocation left
        path.mkdir(parents=True)
        (path / "summary.json").write_text("{}")
    (finished / "analysis.json").write_text("{}")

    def fake(study, run, config, evaluate, minutes):
        clock.now += 60 * minutes
        done.append(study.path(run))
        return True

    monkeypatch.setattr(study_runner, "ensure_teacher",
                        functools.partial(fake, minutes=3))
    monkeypatch.setattr(study_runner, "ensure_cell",
                        functools.partial(fake, minutes=1))
    monkeypatch.setattr(study_runner, "Progress",
                        functools.partial(progress_lib.Progress, clock=clock))
    config = training.RunConfig(dataset="digits", epochs=1)
    assert study_runner.run_study(study, config, lines.append) == (3, 1)
    assert done == [teacher, trained, pending]
    assert lines == [
        "== run 1 of 3: teacher resnet14-plain (elapsed 0s)",
        f"== run 2 of 3: cell {trained.name}, trained: evaluating only "
        "(elapsed 3m 00s, about 6m 00s left)",
        f"== run 3 of 3: cell {pending.name} (elapsed 4m 00s, about 2m 00s "
        "left)"]
