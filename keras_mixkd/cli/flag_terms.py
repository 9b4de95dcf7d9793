"""The library's messages in the command line's terms.

Errors raised by keras_mixkd name settings as a Python caller writes them,
between backticks: `` `teacher` ``, `` `dataset=digits` ``,
`` `overwrite=True` ``. The CLI prints them with its flags instead:
``--teacher``, ``--dataset=digits``, ``--overwrite``. Only names of mixkd
flags change; other code between backticks stays as written.
"""

import re

from keras_mixkd.cli import flag_docs

_SETTING = re.compile(r"`([a-z_][a-z0-9_]*)(?:=([^`]*))?`")


def _flag(match):
    name, value = match.groups()
    if name not in flag_docs.FLAGS:
        return match.group(0)
    if name in flag_docs.BOOLEANS and value in ("True", "False"):
        return f"--{name}" if value == "True" else f"--no{name}"
    return f"--{name}" if value is None else f"--{name}={value}"


def in_flag_terms(message):
    """``message`` with each `` `name` `` / `` `name=value` `` of a flag
    written as that flag.

    Args:
        message: a library message (an error's text, a report line).

    Returns:
        The message as the CLI prints it.

    Example:

    ```python
    in_flag_terms("Missing `teacher`; or give `overwrite=True`.")
    # 'Missing --teacher; or give --overwrite.'
    ```
    """
    return _SETTING.sub(_flag, str(message))
