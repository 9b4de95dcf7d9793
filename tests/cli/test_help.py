"""``mixkd --help``: no TensorFlow, each command's own flags, plain text;
``--helpfull``, ``--version``, no C++ log lines, percentages for people."""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
from absl import flags as absl_flags

from keras_mixkd import _stderr
from keras_mixkd.cli import compare as compare_command
from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flags
from keras_mixkd.cli import main as cli
from keras_mixkd.cli import study as study_command
from keras_mixkd.cli import usage
from keras_mixkd.training.run_folder import accuracy_line

#: A C++ log line of TensorFlow (absl/glog format) or absl's pre-init note.
CPP_LOG = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ |WARNING: All log "
                     r"messages before absl::InitializeLog)", re.M)


def _env():
    env = {k: v for k, v in os.environ.items()
           if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(pathlib.Path(cli.__file__).parents[2]),
         *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def test_help_of_every_command_imports_neither_tensorflow_nor_keras():
    script = ("import io, contextlib, json, sys\n"
              "from keras_mixkd.cli import main\n"
              "out = {}\n"
              "for argv in [['--help'], ['--version']] + [[c, '--help'] "
              "for c in main.COMMANDS]:\n"
              "    buffer = io.StringIO()\n"
              "    with contextlib.redirect_stdout(buffer):\n"
              "        assert main.run(['mixkd', *argv]) == 0\n"
              "    out[' '.join(argv)] = buffer.getvalue()\n"
              "out['modules'] = sorted(m for m in sys.modules if m.split('.')[0]"
              " in ('tensorflow', 'keras', 'numpy'))\n"
              "print(json.dumps(out))\n")
    done = subprocess.run([sys.executable, "-c", script], env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = json.loads(done.stdout)
    assert out.pop("modules") == []
    assert out.pop("--version").strip() == usage.version()
    assert "commands:" in out.pop("--help")
    assert set(out) == {f"{c} --help" for c in cli.COMMANDS}


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_each_command_lists_only_its_flags_grouped_and_plain(command, capsys):
    assert cli.run(["mixkd", command, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"mixkd {command}: ")
    listed = re.findall(r"^  --(?:\[no\])?(\w+)", text, re.M)
    assert sorted(listed) == sorted(flag_docs.COMMAND_FLAGS[command])
    assert "`" not in text
    # Group headers in flag_docs.GROUPS's order.
    headers = re.findall(r"^(.+) flags:$", text, re.M)
    assert headers == [g for g in flag_docs.GROUPS if g in headers]
    # No other command's meaning of a shared flag.
    others = [c for c in cli.COMMANDS if c != command]
    for line in text.split("flags:", 1)[-1].splitlines():
        assert not any(line.strip().startswith(f"{c}:") for c in others), line


def test_a_command_shows_its_own_meaning_and_default_of_a_shared_flag(capsys):
    assert cli.run(["mixkd", "export", "--help"]) == 0
    export = capsys.readouterr().out
    assert "--trained_loss=ce|mixstd|kd|ls|dkd|dist\n" in export
    assert "the loss the model was trained with" in export
    assert "--loss=mixstd|kd|ls|dkd|dist|ce\n      Deprecated" in export
    assert "distillation loss" not in export
    assert cli.run(["mixkd", "distill", "--help"]) == 0
    assert "--loss=mixstd|kd|ls|dkd|dist|ce (default: mixstd)" in (
        capsys.readouterr().out)
    assert cli.run(["mixkd", "quickstart", "--help"]) == 0
    assert "--epochs=... (default: 8)" in capsys.readouterr().out


def test_flag_docs_agree_with_the_absl_flags():
    ours = {name for name, flag in absl_flags.FLAGS._flags().items()
            if name == flag.name and any(
                name in {f.name for f in fs} for module, fs in
                absl_flags.FLAGS.flags_by_module_dict().items()
                if module.startswith("keras_mixkd"))}
    assert ours == set(flag_docs.FLAGS)
    for name in ours:
        flag = flags.FLAGS[name]
        assert flag_docs.DEFAULTS.get(name) == flag.default, name
        assert flag_docs.CHOICES.get(name) == (
            tuple(flag.parser.enum_values)
            if hasattr(flag.parser, "enum_values") else None), name
        assert (name in flag_docs.BOOLEANS) == (flag.boolean), name
        assert flag_docs.help_of(name) in flag.help, name
    assert set(flag_docs.COMMAND_FLAGS) == set(cli.COMMANDS)
    assert set(flag_docs.COMMAND_HELP) | set(flag_docs.COMMAND_DEFAULTS) <= {
        (c, n) for c, names in flag_docs.COMMAND_FLAGS.items() for n in names}
    assert f"{study_command.QUICK['epochs']} epochs" in flag_docs.FLAGS[
        "quick"][1]
    assert ", ".join(compare_command.compare.METHODS) in flag_docs.FLAGS[
        "methods"][1]


def test_helpfull_lists_every_flag_of_every_command(capsys):
    assert cli.run(["mixkd", "distill", "--helpfull"]) == 0
    text = capsys.readouterr().out
    for name in ("methods", "teachers", "num_classes", "teacher_weights",
                 "flagfile"):  # compare, study, convert, distill, absl
        assert f"--{name}" in text, name
    assert cli.run(["mixkd", "--helpfull"]) == 0
    assert capsys.readouterr().out == text


def test_a_command_prints_no_cpp_log_lines(tmp_path):
    # Fails in convert after TensorFlow and the command module are imported.
    done = subprocess.run(
        [sys.executable, "-m", "keras_mixkd.cli.main", "convert",
         "--model=resnet8", f"--weights={tmp_path / 'missing.pth'}",
         f"--output={tmp_path / 'out.keras'}"],
        env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert not CPP_LOG.search(done.stderr), done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("mixkd convert: error: --weights=") and (
        str(tmp_path / "missing.pth") in line)


def test_c_stderr_is_dropped_and_python_stderr_kept(capfd, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr.c_stderr_dropped():
        os.write(2, b"I0000 00:00:1.0 1 port.cc:1] C++ start-up line\n")
        print("a Python warning", file=sys.stderr)
    err = capfd.readouterr().err
    assert "a Python warning" in err and "C++" not in err
    with pytest.raises(RuntimeError), _stderr.c_stderr_dropped():
        os.write(2, b"why it failed\n")
        raise RuntimeError("import failed")
    assert "why it failed" in capfd.readouterr().err
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user wants them
    with _stderr.c_stderr_dropped():
        os.write(2, b"C++ line asked for\n")
    assert "C++ line asked for" in capfd.readouterr().err


def test_accuracies_print_as_percentages_with_two_decimals():
    summary = {"best_accuracy": 0.36000001430511475, "last_accuracy": 0.355}
    assert accuracy_line(summary) == "best 36.00%, last 35.50%"


def test_a_reader_that_stops_early_gets_no_traceback():
    # `mixkd distill --help | head -1`: the pipe's reading end closes
    # before the command writes.
    script = ("import sys\nfrom keras_mixkd.cli import main\n"
              "sys.argv = ['mixkd', 'distill', '--help']\nmain.main()\n")
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run([sys.executable, "-c", script], env=_env(),
                          stdout=write, stderr=subprocess.PIPE, text=True,
                          timeout=60)
    os.close(write)
    assert "Traceback" not in done.stderr, done.stderr
    assert "BrokenPipeError" not in done.stderr
    assert done.returncode == 1
