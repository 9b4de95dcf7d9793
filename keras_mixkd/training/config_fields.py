"""How a `RunConfig` field declares its role, once, on the field.

A field's role says how a run's ``config.json`` records it, whether it
names a path, whether a run may resume with another value, and which
mixings use it; `keras_mixkd.training.config` derives its key lists from
these declarations.
"""

import dataclasses

#: A field's ``record`` role: recorded in every run's ``config.json``,
#: never, or only where it differs from its default (a tuple of commands:
#: recorded by those commands always, by the others never).
ALWAYS, NEVER, CHANGED = "always", "never", "changed"


def setting(default=None, *, record=CHANGED, path=False, resumable=False,
            only_with_mixing=None, not_with_mixing=None):
    """A `RunConfig` field with its role declared on it, once.

    Args:
        default: the field's default (its flag's).
        record: how a run's ``config.json`` records it: `ALWAYS`, `NEVER`,
            `CHANGED` (only where it differs from its default, so a field a
            later version adds keeps older folders resuming) or a tuple of
            commands that always record it (the others never do).
        path: the value names a file or folder (``dataset`` when it is
            ``folder:PATH``): compared after `resolved_path`.
        resumable: a run may resume with another value.
        only_with_mixing, not_with_mixing: distill: the mixings that use
            it, or that do not; elsewhere it is inert (`inert_keys`) and
            must keep its default (`check_distill`).

    Returns:
        A `dataclasses.field`.

    Example:

    >>> @dataclasses.dataclass(frozen=True)
    ... class Config:
    ...     seed: int = setting(0, record=ALWAYS)
    ...     data_dir: str = setting(record=NEVER, path=True, resumable=True)
    """
    return dataclasses.field(default=default, metadata={
        "record": record, "path": path, "resumable": resumable,
        "only_with_mixing": only_with_mixing,
        "not_with_mixing": not_with_mixing})


def unused_reason(field, mixing_name):
    """Why ``field`` has no effect under the mixing ``mixing_name`` (a
    sentence ending its flag's error), or None where it applies."""
    only = field.metadata.get("only_with_mixing")
    if only is not None and mixing_name not in only:
        return (f"applies to {' or '.join(f'`mixing={m}`' for m in only)} "
                f"only, not `mixing={mixing_name}`")
    if mixing_name in (field.metadata.get("not_with_mixing") or ()):
        return f"has no effect with `mixing={mixing_name}`"
    return None


def fields_where(cls, keep):
    """The names of the dataclass ``cls``'s fields whose role passes
    ``keep`` (a predicate of the field's metadata), in field order."""
    return tuple(f.name for f in dataclasses.fields(cls)
                 if f.metadata and keep(f.metadata))
