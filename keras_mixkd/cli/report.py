"""``mixkd report``: one Markdown report of a run, a study or a folder of runs.

    mixkd report runs/study-digits        # a study of 'mixkd study'
    mixkd report runs/quickstart/kd       # one run folder
    mixkd report runs/quickstart          # a folder of run folders

Writes ``report.md`` in the folder, with its figures (PNG) beside it
(`keras_mixkd.experiments.report.write_report`).
"""

import pathlib

from keras_mixkd.experiments import report

#: ``main`` receives the positional arguments (see `keras_mixkd.cli.main`).
TAKES_ARGUMENTS = True


def main(args):
    if len(args) != 1:
        raise ValueError("Give one folder: mixkd report RUN_OR_STUDY_DIR.")
    if not pathlib.Path(args[0]).is_dir():
        raise ValueError(f"No folder at {args[0]}.")
    path = report.write_report(args[0])
    print(f"Wrote {path}")
