"""Markdown pieces of the reports: tables and number formats.

Example:

```python
table(["method", "acc. %"], [["kd", percent(0.9012)]])
```
"""


def table(header, rows):
    """A Markdown table; columns whose first row is a number right-aligned.

    Args:
        header: the column titles.
        rows: lists of cells (None is shown empty, ``|`` escaped).

    Returns:
        The table as text.

    Example:

    >>> table(["a", "b"], [["x", "1.0"]])
    """
    def cell(value):
        return "" if value is None else str(value).replace("|", "\\|")

    align = ["---:" if rows and _numeric(rows[0][i]) else "---"
             for i in range(len(header))]
    lines = ["| " + " | ".join(map(cell, header)) + " |",
             "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def _numeric(value):
    try:
        float(str(value).rstrip("%").split(" ")[0])
        return True
    except ValueError:
        return False


def percent(value):
    """A fraction as a percentage with two decimals ("" for None)."""
    return "" if value is None else f"{100 * float(value):.2f}"


def number(value, digits=3):
    """A number with ``digits`` significant digits ("" for None)."""
    return "" if value is None else f"{float(value):.{digits}g}"
