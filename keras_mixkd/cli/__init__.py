"""The ``mixkd`` command line: train teachers, distil, evaluate, convert.

Run ``mixkd --help`` or ``mixkd <command> --help``. One module per command;
`keras_mixkd.cli.main` dispatches.
"""
