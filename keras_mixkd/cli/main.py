"""``mixkd``: the command-line entry point, dispatching to one command.

    mixkd <command> [--flags]

Commands: train-teacher, distill, evaluate, convert, quickstart.
``mixkd <command> --help`` lists the flags.
"""

import importlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Command name -> module of keras_mixkd.cli with a ``main()``.
COMMANDS = {
    "train-teacher": "train_teacher",
    "distill": "distill",
    "evaluate": "evaluate",
    "convert": "convert",
    "quickstart": "quickstart",
}

USAGE = (f"usage: mixkd <command> [--flags]\n\ncommands: "
         f"{', '.join(COMMANDS)}\n\n'mixkd <command> --help' lists the flags;"
         " 'mixkd quickstart' runs offline in minutes.")


def run(argv):
    """Runs one command in this process.

    Args:
        argv: ``["mixkd", command, "--flag=value", ...]``.

    Returns:
        The exit status: 0 on success, 1 on a usage error (the message
        printed to stderr).
    """
    from absl import app

    from keras_mixkd.cli import flags

    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if len(argv) >= 2 else 1
    command = argv[1]
    if command not in COMMANDS:
        print(f"mixkd: unknown command {command!r}.\n\n{USAGE}",
              file=sys.stderr)
        return 1
    module = importlib.import_module(f"keras_mixkd.cli.{COMMANDS[command]}")
    flags.FLAGS.unparse_flags()
    try:
        flags.FLAGS([f"mixkd {command}", *argv[2:]])
    except flags.flags.Error as e:
        print(f"mixkd {command}: {e}\nTry 'mixkd {command} --helpfull'.",
              file=sys.stderr)
        return 1
    try:
        module.main()
    except app.UsageError as e:
        print(f"mixkd {command}: error: {e}", file=sys.stderr)
        return 1
    return 0


def main():
    """Console-script entry point."""
    sys.exit(run(sys.argv))


if __name__ == "__main__":
    main()
