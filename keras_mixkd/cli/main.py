"""``mixkd``: the command-line entry point, dispatching to one command.

    mixkd <command> [--flags]
    mixkd report RUN_OR_STUDY_DIR
    mixkd --version

Commands: train-teacher, distill, evaluate, convert, export, quickstart,
study, compare, report. ``mixkd <command> --help`` lists the command's flags
without importing TensorFlow (`keras_mixkd.cli.usage`); ``--helpfull`` lists
every flag (absl's meaning). A command imports TensorFlow only once its flags
passed the checks that need no TensorFlow, and without TensorFlow's C++
start-up lines (`keras_mixkd.cli.quiet`).
"""

import importlib
import os
import sys

from keras_mixkd.cli import flag_docs
from keras_mixkd.cli import flag_terms
from keras_mixkd.cli import quiet
from keras_mixkd.cli import usage

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COMMANDS = usage.COMMANDS
USAGE = usage.USAGE

_HELP = ("-h", "--help", "--helpshort")


def _given_flags(arguments):
    """The flag names written in ``arguments`` (``--name``, ``--noname``)."""
    names = []
    for argument in arguments:
        if argument == "--":
            break
        if not argument.startswith("--"):
            continue
        name = argument[2:].split("=", 1)[0]
        if name.startswith("no") and name[2:] in flag_docs.BOOLEANS:
            name = name[2:]
        names.append(name)
    return names


def unused_flag(command, arguments):
    """The error for the first mixkd flag ``command`` does not take, or None.

    Args:
        command: a name of ``COMMANDS``.
        arguments: the command line after the command.
    """
    taken = flag_docs.COMMAND_FLAGS[command]
    for name in _given_flags(arguments):
        if name in flag_docs.FLAGS and name not in taken:
            hint = flag_docs.UNUSED_HINTS.get(command, "drop it")
            return (f"mixkd {command} does not take --{name}: {hint}. "
                    f"'mixkd {command} --help' lists its flags.")
    return None


def full_help():
    """``--helpfull``: absl's help of every flag of every command."""
    quiet.import_tensorflow()
    from keras_mixkd.cli import flags

    for module in COMMANDS.values():
        importlib.import_module(f"keras_mixkd.cli.{module}")
    return flags.FLAGS.get_help()


def run(argv):
    """Runs one command in this process.

    Args:
        argv: ``["mixkd", command, "--flag=value", ...]``.

    Returns:
        The exit status: 0 on success, 1 on a usage error (the message
        printed to stderr).
    """
    if len(argv) < 2 or argv[1] in (*_HELP, "help"):
        print(USAGE)
        return 0 if len(argv) >= 2 else 1
    if argv[1] == "--version":
        print(usage.version())
        return 0
    if argv[1] == "--helpfull":
        print(full_help())
        return 0
    command, rest = argv[1], argv[2:]
    if command not in COMMANDS:
        print(f"mixkd: unknown command {command!r}.\n\n{USAGE}",
              file=sys.stderr)
        return 1
    if "--helpfull" in rest:
        print(full_help())
        return 0
    if any(a in _HELP for a in rest):
        print(usage.command_help(command))
        return 0
    refused = unused_flag(command, rest)
    if refused:
        print(f"mixkd {command}: error: {refused}", file=sys.stderr)
        return 1
    return _run_command(command, rest)


def _run_command(command, arguments):
    """Parses ``arguments`` as ``command``'s flags and runs it."""
    quiet.import_tensorflow()
    from absl import app

    from keras_mixkd import training
    from keras_mixkd.cli import flags

    module = importlib.import_module(f"keras_mixkd.cli.{COMMANDS[command]}")
    flags.FLAGS.unparse_flags()
    try:
        positional = flags.FLAGS([f"mixkd {command}", *arguments])[1:]
    except flags.flags.Error as e:
        print(f"mixkd {command}: {e}\nTry 'mixkd {command} --help'.",
              file=sys.stderr)
        return 1
    takes_arguments = getattr(module, "TAKES_ARGUMENTS", False)
    if positional and not takes_arguments:
        print(f"mixkd {command}: error: unexpected argument(s) "
              f"{' '.join(positional)}; flags are written --name=value.",
              file=sys.stderr)
        return 1
    try:
        # Commands with TAKES_ARGUMENTS get the positional arguments.
        if takes_arguments:
            module.main(positional)
        else:
            module.main()
    except (app.UsageError, ValueError, training.TrainingStopped) as e:
        print(f"mixkd {command}: error: {flag_terms.in_flag_terms(e)}",
              file=sys.stderr)
        return 1
    return 0


def main():
    """Console-script entry point.

    A reader that stops early (``mixkd distill --help | head``) ends the
    command quietly, as other command-line tools do, not with a traceback.
    """
    try:
        code = run(sys.argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at nothing first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
