"""Result tables as CSV files: every value written in full, read back typed.

The tables of ``mixkd study`` and ``mixkd compare`` (``results.csv``) are
what outside checks recompute statistics from, so floats are written with
``repr`` (every digit) and read back as the same floats.

Example:

```python
write_csv("results.csv", [{"method": "kd", "seed": 0, "acc": 0.9}],
          ("method", "seed", "acc"))
read_csv("results.csv", {"method": str, "seed": int})
```
"""

import csv

from keras_mixkd.training.atomic import atomic_write_text


def write_csv(path, rows, columns, formats=None):
    """Writes dict rows as CSV, atomically.

    Args:
        path: the file.
        rows: dicts; a missing or None value is an empty cell.
        columns: the column names, in order.
        formats: ``{column: value -> text}`` for columns written otherwise
            than ``repr`` (floats) or ``str`` (the rest).
    """
    formats = formats or {}

    def text(column, value):
        if value is None:
            return ""
        if column in formats:
            return str(formats[column](value))
        return repr(value) if isinstance(value, float) else str(value)

    lines = [",".join(columns)]
    lines += [",".join(text(c, row.get(c)) for c in columns) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_csv(path, parsers=None):
    """Reads a `write_csv` table back.

    Args:
        path: the file.
        parsers: ``{column: text -> value}``; the other columns are floats.

    Returns:
        A list of dicts, None for empty cells.
    """
    parsers = parsers or {}
    rows = []
    with open(path, newline="") as f:
        for raw in csv.DictReader(f):
            rows.append({key: None if value in ("", None)
                         else parsers.get(key, float)(value)
                         for key, value in raw.items()})
    return rows
