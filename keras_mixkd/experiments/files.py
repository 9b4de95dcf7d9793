"""What the folders of an experiment share.

A comparison or a study folder records the settings it was started with
(``compare.json``, ``study.json``) and refuses to resume under others;
`describe_differences` says which settings differ. Every JSON file is read
and written by `keras_mixkd.training.json_file`; what a run folder holds,
by `keras_mixkd.training.RunFiles`.

Example:

```python
describe_differences({"epochs": 2, "seed": 0}, {"epochs": 3, "seed": 0})
# 'epochs: 2 then 3'
```
"""


def describe_differences(previous, current):
    """The keys whose values differ between two flat dicts, as one line.

    Args:
        previous: the recorded settings.
        current: the requested settings.

    Returns:
        ``"key: old then new; ..."``, keys sorted.
    """
    return "; ".join(f"{k}: {previous.get(k)!r} then {current.get(k)!r}"
                     for k in sorted(set(previous) | set(current))
                     if previous.get(k) != current.get(k))
