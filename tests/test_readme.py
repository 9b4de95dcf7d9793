"""The README's commands stay true."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _bash_blocks():
    return re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(),
                      re.S)


def test_ci_runs_exactly_the_readme_test_command():
    test_command = _bash_blocks()[1].strip()
    assert "pytest" in test_command
    ci_lines = [line.strip() for line in
                (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_quick_start_runs_an_existing_command():
    from keras_mixkd.cli.main import COMMANDS

    main_job = _bash_blocks()[0]
    commands = re.findall(r"mixkd (\S+)", main_job)
    assert commands == ["quickstart"]
    assert all(c in COMMANDS for c in commands)
    assert "mixkd=keras_mixkd.cli.main:main" in (ROOT / "setup.py").read_text()


def test_image_folder_to_tflite_in_three_commands_uses_real_flags():
    from keras_mixkd.cli import flag_docs

    (block,) = [b for b in _bash_blocks() if "folder:" in b]
    commands = [line for line in block.replace("\\\n", " ").splitlines()
                if line.strip()]
    names = [re.match(r"mixkd (\S+)", c).group(1) for c in commands]
    assert names[-1] == "export" and len(names) == 3
    assert "--format=litert" in commands[-1]
    for name, command in zip(names, commands):
        for flag in re.findall(r"--(\w+)", command):
            assert flag in flag_docs.COMMAND_FLAGS[name], (name, flag)
