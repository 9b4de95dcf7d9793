"""The examples: training, distillation, the paper's runner, the table."""

import importlib.util
import json
import math
import os
import pathlib
import shlex
import statistics
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_mixkd

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PAPER_PAIRS = [
    ("resnet56", "resnet20"), ("resnet110", "resnet32"),
    ("resnet32x4", "resnet8x4"), ("wrn_40_2", "wrn_16_2"),
    ("wrn_40_2", "wrn_40_1"), ("vgg13", "vgg8"), ("vgg13", "MobileNetV2"),
    ("ResNet50", "MobileNetV2"), ("resnet32x4", "ShuffleV2"),
]


def example(name):
    """Imports ``examples/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reproduce(*args, env=None):
    """Runs reproduce_paper.sh; returns its stdout lines."""
    env = {**os.environ, "MIXKD": "mixkd", "PYTHON": sys.executable,
           "MIXKD_TEACHERS": "", **(env or {})}
    result = subprocess.run(
        ["bash", str(EXAMPLES / "reproduce_paper.sh"), *args], env=env,
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def commands(lines, command):
    """The argv of each printed ``mixkd <command>`` line."""
    argvs = [shlex.split(line) for line in lines if not line.startswith("#")]
    return [argv for argv in argvs if argv[:2] == ["mixkd", command]]


def flag_values(argv):
    return dict(arg[2:].split("=", 1) for arg in argv[2:])


# --------------------------------------------------------------------------
# train_teacher.py and distill.py


@pytest.mark.slow
def test_train_a_mixup_teacher_then_distill_from_its_file(tmp_path):
    teacher_file, student_file = tmp_path / "t.keras", tmp_path / "s.keras"
    _, accuracy = example("train_teacher").main(
        "resnet8", mixup_alpha=1.0, output=teacher_file, epochs=1)
    assert 0.0 <= accuracy <= 1.0
    teacher = keras.saving.load_model(teacher_file)
    assert teacher.output_shape == (None, 10)

    student, accuracy = example("distill").main(
        teacher_file, student_name="resnet8", output=student_file, epochs=1)
    assert 0.0 <= accuracy <= 1.0
    loaded = keras.saving.load_model(student_file)
    images = np.random.default_rng(0).normal(size=(4, 32, 32, 3))
    # The student runs the fused BatchNorm kernel, the loaded file Keras's
    # layer: equal up to rounding that grows with the logits' scale and may
    # differ by CPU (oneDNN), so the tolerance is relative to that scale.
    want = student.predict(images, verbose=0)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), want,
                               rtol=0, atol=1e-5 * max(np.abs(want).max(), 1))


def test_distill_loads_an_official_checkpoint(reference_dir):
    info = keras_mixkd.data.dataset_info("cifar100")
    teacher = example("distill").load_teacher(
        str(reference_dir / "resnet20.pth"), "resnet20", info)
    reference = np.load(reference_dir / "resnet20_io.npz")
    logits = teacher.predict(reference["input_nhwc"], verbose=0)
    scale = np.abs(reference["logits"]).max()
    assert np.abs(logits - reference["logits"]).max() <= 1e-4 * scale


def test_examples_are_api_demos_without_flag_parsing():
    for path in EXAMPLES.glob("*.py"):
        if path.name == "results_table.py":  # a tool over run folders
            continue
        text = path.read_text()
        assert "argparse" not in text and "absl" not in text, path.name
        assert len(text.splitlines()) <= 70, path.name


@pytest.mark.slow
def test_engine_quickstart_writes_a_run_folder_per_run(tmp_path):
    quickstart = example("quickstart")
    results = quickstart.main(root=str(tmp_path), epochs=1)
    assert list(results) == ["teacher resnet14", "resnet8 + KD (T=4)",
                             "resnet8 + MixKD (PMU + MIXSTD)"]
    config = json.loads((tmp_path / "kd" / "config.json").read_text())
    assert (config["loss"], config["temperature"], config["mixing"]) == (
        "kd", 4.0, "none")
    assert json.loads((tmp_path / "mixkd" / "config.json").read_text())[
        "mixing"] == "pmu"


# --------------------------------------------------------------------------
# reproduce_paper.sh


def test_dry_run_prints_every_pair_method_and_seed(tmp_path):
    from keras_mixkd.cli import flag_docs
    from keras_mixkd.cli import flags as cli_flags
    from keras_mixkd.cli.flags import FLAGS

    out = tmp_path / "runs"
    lines = reproduce("--dry-run", "--seeds", "3", "--out", str(out))
    teachers = commands(lines, "train-teacher")
    assert sorted(flag_values(a)["model"] for a in teachers) == sorted(
        {t for t, _ in PAPER_PAIRS})
    distills = commands(lines, "distill")
    assert len(distills) == len(PAPER_PAIRS) * 2 * 3
    seen = set()
    try:
        for argv in distills:
            flags = flag_values(argv)
            method = "mixkd" if flags.get("preset") == "paper" else "kd"
            if method == "kd":
                assert (flags["loss"], flags["mixing"], flags["temperature"]
                        ) == ("kd", "none", "4")
            teacher, student = flags["teacher"], flags["student"]
            seen.add((teacher, student, method, flags["seed"]))
            assert flags["teacher_weights"] == str(
                out / "teachers" / teacher / "checkpoints" / "last.keras")
            # The command line parses, names real models and is consistent.
            FLAGS.unparse_flags()
            FLAGS(["mixkd distill", *argv[2:]])
            assert {teacher, student} <= set(keras_mixkd.models.available())
            assert set(flags) <= set(flag_docs.COMMAND_FLAGS["distill"])
            config = cli_flags.run_config()
            config.check_distill()
            assert config.dataset == "cifar100" and config.epochs == 240
    finally:
        FLAGS.unparse_flags()
    assert seen == {(t, s, m, str(k)) for t, s in PAPER_PAIRS
                    for m in ("kd", "mixkd") for k in range(3)}
    assert any("results_table.py" in line for line in lines)


def test_dry_run_with_official_teachers_trains_none(tmp_path):
    official = tmp_path / "RepDistiller"
    lines = reproduce("--dry-run", "--seeds", "1",
                      env={"MIXKD_TEACHERS": str(official)})
    assert not commands(lines, "train-teacher")
    for argv in commands(lines, "distill"):
        flags = flag_values(argv)
        assert flags["teacher_weights"] == str(
            official / "save" / "models" / f"{flags['teacher']}_vanilla" /
            "ckpt_epoch_240.pth")


def test_shards_split_the_jobs():
    full = commands(reproduce("--dry-run", "--stage", "distill"), "distill")
    shards = [commands(reproduce("--dry-run", "--stage", "distill",
                                 "--shard", f"{i}/4"), "distill")
              for i in range(4)]
    assert sorted(map(tuple, sum(shards, []))) == sorted(map(tuple, full))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


FAKE_MIXKD = """\
import json, pathlib, sys, zlib
flags = dict(arg[2:].split("=", 1) for arg in sys.argv[2:])
def value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text
out = pathlib.Path(flags["output_dir"])
out.mkdir(parents=True)
config = {"command": sys.argv[1], **{k: value(v) for k, v in flags.items()}}
(out / "config.json").write_text(json.dumps(config))
(out / "checkpoints").mkdir()
(out / "checkpoints" / "last.keras").touch()
last = zlib.crc32(str(out).encode()) % 1000 / 1000
(out / "summary.json").write_text(json.dumps(
    {"best_accuracy": max(last, 0.5), "last_accuracy": last}))
"""


def test_runs_every_job_then_the_table_and_skips_finished_runs(tmp_path):
    """The real (not dry) path, with a stand-in for the mixkd command."""
    fake = tmp_path / "fake_mixkd.py"
    fake.write_text(FAKE_MIXKD)
    out = tmp_path / "runs"
    env = {"MIXKD": f"{sys.executable} {fake}"}
    lines = reproduce("--seeds", "2", "--out", str(out), env=env)
    assert sum(line.startswith("+ ") for line in lines) == 6 + 9 * 2 * 2 + 1
    table = (out / "results.md").read_text()
    assert table.count(" | KD (T=4) | 2 | ") == 9
    assert table.count(" | MixKD (paper) | 2 | ") == 9
    lines = reproduce("--seeds", "2", "--out", str(out), env=env)
    assert sum(line.startswith("# finished:") for line in lines) == 6 + 36


# --------------------------------------------------------------------------
# results_table.py


def _write_run(path, config, summary):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config))
    if summary is not None:
        (path / "summary.json").write_text(json.dumps(summary))


def test_results_table_mean_and_std_over_seeds(tmp_path):
    table = example("results_table")
    rng = np.random.default_rng(0)
    expected = {}
    methods = {"KD (T=4)": {"loss": "kd", "mixing": "none",
                            "temperature": 4.0, "preset": None},
               "MixKD (paper)": {"loss": "mixstd", "mixing": "pmu",
                                 "temperature": None, "preset": "paper"},
               "ls + fmu": {"loss": "ls", "mixing": "fmu",
                            "temperature": None, "preset": None}}
    for teacher, student in PAPER_PAIRS[:3]:
        for method, flags in methods.items():
            best, last = [], []
            for seed in range(3):
                accuracy = rng.uniform(0.6, 0.8, size=2)
                best.append(accuracy.max())
                last.append(accuracy[1])
                _write_run(
                    tmp_path / f"{teacher}-{student}" / method / str(seed),
                    {"command": "distill", "teacher": teacher,
                     "student": student, "seed": seed, **flags},
                    {"best_accuracy": best[-1], "last_accuracy": last[-1]})
            expected[(teacher, student, method)] = (best, last)
    _write_run(tmp_path / "teacher", {"command": "train-teacher",
                                      "model": "resnet56", "seed": 0},
               {"best_accuracy": 0.72, "last_accuracy": 0.71})
    _write_run(tmp_path / "unfinished", {"command": "distill"}, None)

    rows = table.summarize(table.collect(tmp_path))
    assert len(rows) == len(expected) + 1
    for row in rows:
        if row["method"] == "teacher":
            assert row["teacher"] == "resnet56" and row["seeds"] == [0]
            assert row["last"][0] == pytest.approx(71.0)
            assert math.isnan(row["last"][1])
            continue
        best, last = expected[(row["teacher"], row["student"],
                               row["method"])]
        assert row["seeds"] == [0, 1, 2]
        for key, values in (("best", best), ("last", last)):
            values = [100 * v for v in values]
            assert row[key] == pytest.approx(
                (statistics.mean(values), statistics.stdev(values)))

    text = table.main([str(tmp_path), f"--output={tmp_path / 'table.md'}"])
    assert (tmp_path / "table.md").read_text() == text
    best, last = expected[(*PAPER_PAIRS[0], "MixKD (paper)")]
    last = [100 * v for v in last]
    cell = f"{statistics.mean(last):.2f} ± {statistics.stdev(last):.2f}"
    assert f"| resnet56 -> resnet20 | MixKD (paper) | 3 | {cell} |" in text
    assert "| resnet56 | 1 | 71.00 | 72.00 |" in text
