"""``mixkd``: the command-line entry point, dispatching to one command.

    mixkd <command> [--flags]
    mixkd report RUN_OR_STUDY_DIR

Commands: train-teacher, distill, evaluate, convert, quickstart, study,
compare, report.
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
    "study": "study",
    "compare": "compare",
    "report": "report",
}

USAGE = (f"usage: mixkd <command> [--flags]\n\ncommands: "
         f"{', '.join(COMMANDS)}\n\n'mixkd <command> --help' lists the flags;"
         " 'mixkd quickstart' runs offline in minutes; 'mixkd study --quick'"
         " the paper's grid in about 10; 'mixkd compare' student methods over"
         " seeds with confidence intervals; 'mixkd report DIR' summarises a"
         " run or study folder in report.md.")


def command_help(command, module):
    """The help text of one command: its docstring and its flags."""
    from keras_mixkd.cli import flags

    lines = [f"mixkd {command}: {(module.__doc__ or '').strip()}", "",
             "flags:"]
    for name in module.FLAGS_USED:
        flag = flags.FLAGS[name]
        default = "" if flag.default is None else (
            f" (default: {flag.default_as_str})")
        lines.append(f"  --{name}: {flag.help}{default}")
    return "\n".join(lines)


def _given_flags(arguments):
    """The flag names written in ``arguments`` (``--name``, ``--noname``)."""
    from keras_mixkd.cli import flags

    names = []
    for argument in arguments:
        if argument == "--":
            break
        if not argument.startswith("--"):
            continue
        name = argument[2:].split("=", 1)[0]
        if name not in flags.FLAGS and name.startswith("no") and (
                name[2:] in flags.FLAGS):
            name = name[2:]
        names.append(name)
    return names


def unused_flag(command, module, arguments):
    """The error for the first flag ``command`` does not use, or None."""
    from keras_mixkd.cli import flags

    for name in _given_flags(arguments):
        if name in flags.FLAGS and name not in module.FLAGS_USED:
            hint = getattr(module, "UNUSED_HINT", "drop it")
            return (f"mixkd {command} does not take --{name}: {hint}. "
                    f"'mixkd {command} --help' lists its flags.")
    return None


def run(argv):
    """Runs one command in this process.

    Args:
        argv: ``["mixkd", command, "--flag=value", ...]``.

    Returns:
        The exit status: 0 on success, 1 on a usage error (the message
        printed to stderr).
    """
    from absl import app

    from keras_mixkd import training
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
    if any(a in ("-h", "--help", "--helpfull", "--helpshort")
           for a in argv[2:]):
        print(command_help(command, module))
        return 0
    refused = unused_flag(command, module, argv[2:])
    if refused:
        print(f"mixkd {command}: error: {refused}", file=sys.stderr)
        return 1
    flags.FLAGS.unparse_flags()
    try:
        arguments = flags.FLAGS([f"mixkd {command}", *argv[2:]])[1:]
    except flags.flags.Error as e:
        print(f"mixkd {command}: {e}\nTry 'mixkd {command} --help'.",
              file=sys.stderr)
        return 1
    takes_arguments = getattr(module, "TAKES_ARGUMENTS", False)
    if arguments and not takes_arguments:
        print(f"mixkd {command}: error: unexpected argument(s) "
              f"{' '.join(arguments)}; flags are written --name=value.",
              file=sys.stderr)
        return 1
    try:
        # Commands with TAKES_ARGUMENTS get the positional arguments.
        if takes_arguments:
            module.main(arguments)
        else:
            module.main()
    except (app.UsageError, ValueError, training.TrainingStopped) as e:
        print(f"mixkd {command}: error: {e}", file=sys.stderr)
        return 1
    return 0


def main():
    """Console-script entry point."""
    sys.exit(run(sys.argv))


if __name__ == "__main__":
    main()
