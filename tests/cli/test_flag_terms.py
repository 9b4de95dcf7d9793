"""Library messages name Python settings; the CLI prints them as flags."""

import io
import pathlib
import re
import tokenize

import pytest

import keras_mixkd
from keras_mixkd import training
from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import main as cli
from keras_mixkd.cli.flag_terms import in_flag_terms

PACKAGE = pathlib.Path(keras_mixkd.__file__).parent
# A flag in text: not inside a word (a folder name such as a--b--seed1) and
# not followed by a placeholder (f"--seed{seed}" names a folder).
_FLAG = re.compile(r"(?<![\w}\-])--(?:no)?([a-z_][a-z0-9_]*)(?![\w{])")


@pytest.mark.parametrize("message,expected", [
    ("Missing `teacher`.", "Missing --teacher."),
    ("Use `dataset=digits` or a prepared `data_dir`.",
     "Use --dataset=digits or a prepared --data_dir."),
    ("Give `overwrite=True` to replace it.", "Give --overwrite to replace it."),
    ("`jit_compile=False` is slower.", "--nojit_compile is slower."),
    ("`output=/tmp/a b.tflite` is a folder.", "--output=/tmp/a b.tflite is a "
     "folder."),
    # Code that is not a flag stays as written.
    ("`keras.Model` and `student_loss` and `apt-get install x`",
     "`keras.Model` and `student_loss` and `apt-get install x`"),
])
def test_settings_become_flags(message, expected):
    assert in_flag_terms(message) == expected


def _message_strings(path):
    """The string literals of a module that are not docstrings."""
    for token in tokenize.generate_tokens(
            io.StringIO(path.read_text()).readline):
        if token.type != tokenize.STRING:
            continue
        body = token.string.lstrip("rRbBuUfF")
        if not body.startswith(('"""', "'''")):
            yield token.start[0], token.string


def test_library_messages_name_settings_not_flags():
    """Outside keras_mixkd.cli no message writes a mixkd flag: a Python
    caller reads `teacher`, the CLI turns it into --teacher."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        for line, text in _message_strings(path):
            for match in _FLAG.finditer(text):
                if match.group(1) in flag_docs.FLAGS or (
                        match.group(1)[2:] in flag_docs.BOOLEANS):
                    found.append(f"{path.relative_to(PACKAGE)}:{line}: "
                                 f"{match.group(0)}")
    assert not found, found


# One message per kind of setting, raised by the Python API, then by the
# command that sets the same thing: the Python caller reads the field, the
# command-line user the flag.
def _preset_conflict():
    training.DistillConfig(preset="patient", mixing="cutmix")


def _missing_teacher():
    from keras_mixkd.experiments import compare
    compare.compare(training.RunConfig(student="resnet8", output_dir="cmp"),
                    ("kd",), seeds=1, log=lambda line: None)


def _bad_epochs():
    training.DistillConfig(teacher="resnet8", student="resnet8", epochs=0)


def _calibrate_logits():
    from keras_mixkd.exporting import ExportConfig
    ExportConfig(weights="w.keras", format="litert", output="o.tflite",
                 calibrate=True)


@pytest.mark.parametrize("call,python,args,flag", [
    (_bad_epochs, "`epochs` must be >= 1",
     ["distill", "--teacher=resnet8", "--teacher_weights=w.keras",
      "--student=resnet8", "--epochs=0"], "--epochs must be >= 1"),
    (_calibrate_logits, "`calibrate=True` calibrates probabilities: add "
     "`outputs=probabilities`.",
     ["export", "--weights=w.keras", "--format=litert", "--output=o.tflite",
      "--calibrate"],
     "--calibrate calibrates probabilities: add --outputs=probabilities."),
    (_preset_conflict,
     "`preset=patient` fixes `mixing=fmu`, but `mixing=cutmix` was given",
     ["distill", "--teacher=resnet8", "--teacher_weights=w.keras",
      "--student=resnet8", "--preset=patient", "--mixing=cutmix"],
     "--preset=patient fixes --mixing=fmu, but --mixing=cutmix was given"),
    (_missing_teacher, "Missing `teacher` (an architecture to train), or "
     "`teacher_weights`", ["compare", "--student=resnet8", "--methods=kd",
                                      "--output_dir=cmp"],
     "Missing --teacher (an architecture to train), or --teacher_weights"),
])
def test_python_names_the_field_and_the_cli_the_flag(call, python, args,
                                                     flag, capsys, tmp_path,
                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError) as error:
        call()
    assert python in str(error.value)
    assert "--" not in str(error.value)
    assert cli.run(["mixkd", *args]) == 1
    assert flag in capsys.readouterr().err
