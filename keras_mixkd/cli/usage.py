"""The ``mixkd`` help texts, rendered without importing TensorFlow.

Each command's description is its module's docstring, read from the source
file (the module itself imports TensorFlow); its flags come from
`keras_mixkd.cli.flag_docs`, grouped, in plain text.
"""

import ast
import importlib.util
import re
import textwrap

from keras_mixkd.cli import flag_docs
from keras_mixkd.version import __version__

#: Command name -> module of keras_mixkd.cli with a ``main()``.
COMMANDS = {
    "train-teacher": "train_teacher",
    "distill": "distill",
    "evaluate": "evaluate",
    "convert": "convert",
    "export": "export",
    "quickstart": "quickstart",
    "study": "study",
    "compare": "compare",
    "report": "report",
}

_WIDTH = 79

USAGE = "\n\n".join([
    "usage: mixkd <command> [--flags]",
    textwrap.fill(f"commands: {', '.join(COMMANDS)}", _WIDTH),
    textwrap.fill(
        "'mixkd <command> --help' lists the flags; 'mixkd quickstart' runs "
        "offline in minutes; 'mixkd study --quick' the paper's grid in about "
        "10; 'mixkd compare' student methods over seeds with confidence "
        "intervals; 'mixkd export' ships a model as SavedModel or LiteRT; "
        "'mixkd report DIR' summarises a run or study folder in report.md. "
        "'mixkd --version' prints the version; 'mixkd <command> --helpfull' "
        "lists every flag of every command.", _WIDTH)])


def version():
    """``mixkd --version``'s line."""
    return f"mixkd {__version__}"


def plain(text):
    """``text`` without reStructuredText/Markdown backticks."""
    return re.sub(r"`{1,2}([^`]+)`{1,2}", r"\1", text)


def description(command):
    """The docstring of ``command``'s module, read without importing it."""
    spec = importlib.util.find_spec(f"keras_mixkd.cli.{COMMANDS[command]}")
    with open(spec.origin, encoding="utf-8") as source:
        docstring = ast.get_docstring(ast.parse(source.read()))
    return plain(docstring or f"mixkd {command}")


def _flag_lines(command, name):
    """The lines of one flag in ``command``'s help."""
    if name in flag_docs.BOOLEANS:
        usage = f"--[no]{name}"
    elif name in flag_docs.CHOICES:
        usage = f"--{name}={'|'.join(flag_docs.CHOICES[name])}"
    else:
        usage = f"--{name}=..."
    default = flag_docs.default_of(name, command)
    if isinstance(default, list):
        default = ",".join(default)
    elif isinstance(default, bool):
        default = str(default).lower()
    if default is not None:
        usage += f" (default: {default})"
    text = plain(flag_docs.help_of(name, command))
    return [f"  {usage}", *textwrap.wrap(text, _WIDTH, initial_indent=" " * 6,
                                         subsequent_indent=" " * 6)]


def command_help(command):
    """``mixkd COMMAND --help``: the description and the command's flags.

    Args:
        command: a name of ``COMMANDS``.

    Returns:
        Plain text: the flags grouped as ``flag_docs.GROUPS``, each with its
        choices, default and meaning in this command.
    """
    lines = [description(command)]
    names = flag_docs.COMMAND_FLAGS[command]
    for group in flag_docs.GROUPS:
        members = [n for n, (g, _) in flag_docs.FLAGS.items()
                   if g == group and n in names]
        if members:
            lines += ["", f"{group} flags:"]
            for name in members:
                lines += _flag_lines(command, name)
    if not names:
        lines += ["", "This command takes no flags."]
    lines += ["", "--helpfull: every flag of every command (absl's list)."]
    return "\n".join(lines)
