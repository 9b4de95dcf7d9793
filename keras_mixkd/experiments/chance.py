"""Results near chance: warnings for comparisons and studies.

A teacher or a student whose test accuracy is within a few points of chance,
``1 / num_classes``, has learned next to nothing. Its runs then tend to
agree (often predicting one class), so the paired differences between
methods, and their 95% intervals, come out near ``+0.00 [+0.00, +0.00]``:
a tight interval that says nothing about the methods. `warnings` names such
results; `keras_mixkd.experiments.compare` and the study report put the
sentences in their summaries and print them.

Example:

```python
warnings({"resnet20": 0.11}, {"kd": 0.10, "mixkd": 0.12}, num_classes=10)
```
"""

#: How close to chance (in accuracy, 0.05 = 5 points) a result is flagged.
MARGIN = 0.05


def near_chance(accuracy, num_classes, margin=MARGIN):
    """Whether ``accuracy`` is below chance plus ``margin`` (False when
    either is unknown)."""
    if accuracy is None or not num_classes:
        return False
    return accuracy < 1.0 / num_classes + margin


def _chance(num_classes, margin):
    return (f"within {margin * 100:.0f} points of chance (1/{num_classes} = "
            f"{100.0 / num_classes:.1f}%)")


def _named(accuracies, num_classes, margin):
    return [f"{name} ({accuracy * 100:.1f}%)"
            for name, accuracy in accuracies.items()
            if near_chance(accuracy, num_classes, margin)]


def _subject(kind, names):
    many = len(names) > 1
    return (f"{kind}{'s' if many else ''} {', '.join(names)} "
            f"{'are' if many else 'is'}")


def warnings(teachers, students, num_classes, margin=MARGIN,
             subject="method"):
    """Sentences that flag teachers or students near chance.

    Args:
        teachers: ``{name: test accuracy}`` of the teachers (None values:
            unknown).
        students: ``{name: mean test accuracy}`` of the methods or cells.
        num_classes: the number of classes K (None: nothing is flagged).
        margin: how far above ``1 / K`` still counts as chance.
        subject: what the students' names are, for the sentence
            (``"method"``, ``"cell"``).

    Returns:
        A list of sentences, empty when nothing is near chance.
    """
    lines = []
    low = _named(teachers, num_classes, margin)
    if low:
        lines.append(
            f"Warning: {_subject('teacher', low)} "
            f"{_chance(num_classes, margin)}: it has learned next to nothing,"
            " so its students distil noise and the differences between "
            "them, intervals included, say nothing about the methods. Train "
            "the teacher longer, or check the data and its labels.")
    low = _named(students, num_classes, margin)
    if low:
        lines.append(
            f"Warning: {_subject(subject, low)} "
            f"{_chance(num_classes, margin)}: such students predict about as "
            "well as guessing, so their runs tend to agree (often on one "
            "class) and their differences and intervals (even +0.00 [+0.00, "
            "+0.00]) measure no method. Train longer, or check the learning "
            "rate and the data.")
    return lines
