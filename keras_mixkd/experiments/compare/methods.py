"""The ways of training a student that ``mixkd compare`` knows: the named
methods (`METHODS`) and the user's own (`custom_method`, `parse_spec`).

A `Method` is a set of `keras_mixkd.training.RunConfig` fields; `run_config`
applies one to the comparison's base configuration for one seed.

Example:

```python
run = run_config(base, "mixkd", seed=1, output_dir="runs/c/runs/mixkd/seed-1")
run.loss, run.mixing  # ('mixstd', 'pmu')
name, settings = parse_spec("kd_t2:loss=kd,temperature=2")
run = run_config(base, custom_method(name, settings), 1, "-")
```
"""

import dataclasses
import math
import numbers
import re

from keras_mixkd.settings import DEFAULTS
from keras_mixkd.settings import KD_TEMPERATURE
from keras_mixkd.settings import MIX_FRACTION


@dataclasses.dataclass(frozen=True)
class Method:
    """One way of training the student.

    Attributes:
        description: one line, for help texts and reports; ``{weights}``
            stands for the loss weights of a run (`describe`).
        settings: the `RunConfig` fields this method sets (the others come
            from the base configuration).
        distilled: False for the student trained alone (no teacher).
    """

    description: str
    settings: dict
    distilled: bool = True

    def describe(self, base=None):
        """The description, with the loss weights a run of it uses.

        Args:
            base: the comparison's base configuration (a dict of
                `RunConfig` fields, as ``compare.json`` records it), or None
                (the defaults).

        Returns:
            ``description`` with ``{weights}`` replaced by ``CE a + KD b``:
            the method's own weights, else the base's, else the defaults.
        """
        base = base or {}
        weights = {name: self.settings.get(name,
                                           base.get(name, DEFAULTS[name]))
                   for name in ("ce_weight", "kd_weight")}
        return self.description.replace(
            "{weights}", f"CE {weights['ce_weight']:g} + KD "
            f"{weights['kd_weight']:g}")


def _settings(loss, mixing="none", sampling="official", temperature=None,
              mix_mode="replace", feature_loss="none"):
    """A method's `RunConfig` fields. Partial mixup mixes 10% (the official
    ``--partmixup 0.9``); the mixing settings of other mixings keep their
    defaults, and without mixing ``mixup_alpha`` is None (the engine's
    rule). ``mix_mode`` and ``feature_loss`` are set only when not their
    defaults (earlier records omit them)."""
    settings = {"loss": loss, "temperature": temperature, "mixing": mixing,
                "mix_fraction": MIX_FRACTION, "mix_sampling": sampling}
    if mix_mode != "replace":
        settings["mix_mode"] = mix_mode
    if feature_loss != "none":
        settings["feature_loss"] = feature_loss
    if mixing == "none":
        settings["mixup_alpha"] = None
    return settings


#: The methods `compare` knows, by name.
METHODS = {
    "alone": Method(
        "the student trained alone: cross-entropy on the labels, no teacher, "
        "no mixing", {"mixup_alpha": None}, distilled=False),
    "kd": Method(
        "classic KD (Hinton), T=4 with T^2 scaling, {weights}, no mixing",
        _settings("kd", temperature=KD_TEMPERATURE)),
    "mixkd": Method(
        "the paper's recipe as the official code runs it: MIXSTD loss, "
        "partial mixup of 10% with official sampling (~41% of rows mixed at "
        "batch 64), {weights}",
        _settings("mixstd", "pmu")),
    "mixkd_exact": Method(
        "mixkd with exact partial-mixup sampling: 10% of each batch mixed, "
        "as the paper describes",
        _settings("mixstd", "pmu", "exact")),
    "fmu_kd": Method(
        "full mixup + classic KD at T=4 (the setting the paper says "
        "over-smooths), {weights}",
        _settings("kd", "fmu", temperature=KD_TEMPERATURE)),
    "pmu_kd": Method(
        "partial mixup (10%, official sampling) + classic KD at T=4, "
        "{weights}",
        _settings("kd", "pmu", temperature=KD_TEMPERATURE)),
    "mixstd": Method(
        "the MIXSTD loss (logits divided by their std, {weights}) without "
        "mixing",
        _settings("mixstd")),
    "ls": Method(
        "logit standardization (Sun et al.) with the package's defaults: "
        "tau 2 with tau^2 scaling, CE on raw logits, {weights} (the paper: "
        "CE 1 + KD 9), no mixing",
        _settings("ls")),
    "dkd": Method(
        "decoupled KD (Zhao et al.) with the package's defaults: alpha 1, "
        "beta 8, T 4, plain CE, {weights}, no mixing",
        _settings("dkd")),
    "dist": Method(
        "DIST (Huang et al.) with the package's defaults: inter- and "
        "intra-class Pearson correlation, beta = gamma = 1, T 1, plain CE, "
        "{weights}, no mixing",
        _settings("dist")),
    "funmatch": Method(
        "function matching (Beyer et al., CVPR 2022) as the package runs "
        "it: full mixup replacing the batch before both forwards, the KD "
        "term alone at T=1 (T^2 scaling), {weights}; it sets its own "
        "weights, so `ce_weight`/`kd_weight` do not change it (per-sample "
        "Beta(1, 1) weights and random partners, not the paper's one "
        "weight per batch and neighbour; the base optimizer, not Adam with "
        "a cosine schedule)",
        {**_settings("kd", "fmu", temperature=1.0), "ce_weight": 0.0,
         "kd_weight": 1.0}),
    "kd_append_mixup": Method(
        "classic KD at T=4, {weights}, with a fully mixed copy of "
        "each batch appended as extra teacher queries (Wang et al., NeurIPS "
        "2022): CE on the clean rows, KD on the clean and mixed rows",
        _settings("kd", "fmu", temperature=KD_TEMPERATURE,
                  mix_mode="append")),
    "kd_append_cutmix": Method(
        "kd_append_mixup with Keras's CutMix as the mixer (its patch sizes "
        "follow Beta(a, a) with a ~ U(0, mixup_alpha) per batch)",
        _settings("kd", "cutmix", temperature=KD_TEMPERATURE,
                  mix_mode="append")),
}


def _repdistiller(feature_loss, with_kd, mixing="none"):
    """RepDistiller's feature method (``scripts/run_cifar_distill.sh``): CE
    1 and no KD (``-a 0``), or with KD CE 0.1 + KD 0.9 at T=4, plus the
    feature terms at its weight (``-b``)."""
    weights = ({"ce_weight": 0.1, "kd_weight": 0.9} if with_kd
               else {"ce_weight": 1.0, "kd_weight": 0.0})
    return {**_settings("kd", mixing, temperature=KD_TEMPERATURE,
                        feature_loss=feature_loss), **weights}


_FITNET = ("FitNets' hint (RepDistiller: MSE between the teacher's second "
           "stage, feat[2], and the student's through a trained connector, "
           "beta 100)")
_AT = ("attention transfer on every stage (RepDistiller: feat[1:-1], beta "
       "1000)")
METHODS.update({
    "fitnet": Method(f"{_FITNET} + CE 1, no KD, no mixing; it sets its own "
                     "weights", _repdistiller("hint", False)),
    "at": Method(f"{_AT} + CE 1, no KD, no mixing; it sets its own weights",
                 _repdistiller("at", False)),
    "fitnet_kd": Method(f"{_FITNET} + classic KD at T=4, CE 0.1 + KD 0.9, no "
                        "mixing", _repdistiller("hint", True)),
    "at_kd": Method(f"{_AT} + classic KD at T=4, CE 0.1 + KD 0.9, no mixing",
                    _repdistiller("at", True)),
    "at_pmu": Method(f"at with partial mixup (10%, official sampling): the "
                     "teacher's attention maps on the same mixed batch, CE 1 "
                     "on the mixed labels", _repdistiller("at", False, "pmu")),
    "at_fmu": Method("at with full mixup: the teacher's attention maps on the "
                     "same mixed batch, CE 1 on the mixed labels",
                     _repdistiller("at", False, "fmu")),
})

#: What ``mixkd compare`` runs by default.
DEFAULT_METHODS = tuple(DEFAULTS["methods"])

#: Settings the methods or the comparison choose per run: not part of the
#: base configuration a folder is bound to.
PER_RUN_KEYS = ("seed", "output_dir", "verbose", "model", "weights",
                "preset", "loss", "mixing", "mix_fraction", "mix_sampling",
                "mix_mode", "temperature", "backup_interval_s",
                "eval_batch_size", "feature_loss", "feature_weight")


#: The settings a user-defined method may set (`custom_method`).
CUSTOM_KEYS = ("loss", "temperature", "mixing", "mix_fraction",
               "mix_sampling", "mix_mode", "ce_weight", "kd_weight",
               "feature_loss", "feature_weight")

#: The settings of `CUSTOM_KEYS` a ``compare.json`` records only where they
#: differ from these values (folders recorded before them omit them).
UNRECORDED_DEFAULTS = {"mix_mode": "replace", "feature_loss": "none",
                       "feature_weight": None}

_TEXT_KEYS = ("loss", "mixing", "mix_sampling", "mix_mode", "feature_loss")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SPEC_EXAMPLE = "`method_spec=kd_t2:loss=kd,temperature=2`"


def custom_method(name, settings):
    """A user-defined method: the `Method` of the given settings.

    Omitted settings: no mixing, partial mixup's ``mix_fraction`` 0.1 and
    ``mix_sampling`` "official" (for ``mixing="pmu"``), the loss's default
    temperature, and the comparison's ``ce_weight`` / ``kd_weight``. The
    values themselves are checked by `RunConfig` when the method is applied
    (`run_config`), as `compare` does before anything runs.

    Args:
        name: the method's name in ``results.csv``, the summary and the
            plot: letters, digits, ``_``, ``.``, ``-``; not a name of
            `METHODS`.
        settings: a mapping of `CUSTOM_KEYS` to values; ``loss`` is
            required.

    Returns:
        The `Method`; its description lists the given settings.

    Raises:
        ValueError: on a bad name, an unknown key, a missing loss or a
            value of the wrong type.

    Example:

    >>> custom_method("kd_w9", {"loss": "kd", "kd_weight": 9.0}).settings[
    ...     "kd_weight"]
    9.0
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"Method name {name!r}: use letters, digits, '_', "
                         "'.' and '-', starting with a letter or digit.")
    if name in METHODS:
        raise ValueError(f"Method name {name!r} is a named method "
                         f"({METHODS[name].describe()}); give your "
                         "definition another name.")
    settings = dict(settings)
    unknown = sorted(set(settings) - set(CUSTOM_KEYS))
    if unknown:
        raise ValueError(f"Method {name!r}: unknown setting(s) "
                         f"{', '.join(unknown)}; a method sets: "
                         f"{', '.join(CUSTOM_KEYS)}.")
    if "loss" not in settings:
        raise ValueError(f"Method {name!r} needs a loss, e.g. "
                         f"{_SPEC_EXAMPLE}.")
    for key, value in settings.items():
        if not _valid(key, value):
            kind = "a name" if key in _TEXT_KEYS else "a finite number"
            raise ValueError(f"Method {name!r}: {key}={value!r} is not "
                             f"{kind}.")
    resolved = _settings(settings["loss"], settings.get("mixing", "none"),
                         settings.get("mix_sampling", "official"),
                         _number(settings.get("temperature")),
                         settings.get("mix_mode", "replace"),
                         settings.get("feature_loss", "none"))
    if "feature_weight" in settings:
        resolved["feature_weight"] = _number(settings["feature_weight"])
    resolved["mix_fraction"] = _number(settings.get("mix_fraction",
                                                    MIX_FRACTION))
    for key in ("ce_weight", "kd_weight"):
        if key in settings:
            resolved[key] = _number(settings[key])
    given = [f"{k}={settings[k]}" for k in CUSTOM_KEYS if k in settings]
    if "mixing" not in settings:
        given.append("no mixing")
    if not {"ce_weight", "kd_weight"} & set(settings):
        given.append("{weights}")
    return Method(f"user-defined: {', '.join(given)}", resolved)


def _valid(key, value):
    """Whether ``value`` has the type of setting ``key``."""
    if key in _TEXT_KEYS:
        return isinstance(value, str)
    if value is None:
        return key in ("temperature", "feature_weight")  # the defaults
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _number(value):
    return None if value is None else float(value)


def parse_spec(text):
    """Reads a method definition written ``NAME:key=value,key=value``.

    Args:
        text: e.g. ``"kd_t2:loss=kd,temperature=2"``; the keys
            are `CUSTOM_KEYS`, numbers for all but loss, mixing,
            mix_sampling, mix_mode and feature_loss (e.g.
            ``"at_kd9:loss=kd,feature_loss=at,feature_weight=500"``).

    Returns:
        ``(name, settings)``, for `custom_method`.

    Raises:
        ValueError: on text not of that form or a value that is not a
            number where one is needed.
    """
    name, sep, body = text.partition(":")
    pairs = [item.partition("=") for item in body.split(",")] if sep else []
    if not name or not pairs or any(
            not key or not eq or not value for key, eq, value in pairs):
        raise ValueError(f"`method_spec={text}`: write NAME:key=value,..., "
                         f"e.g. {_SPEC_EXAMPLE}.")
    settings = {}
    for key, _, value in pairs:
        key, value = key.strip(), value.strip()
        if key in settings:
            raise ValueError(f"`method_spec={text}`: {key} is given twice.")
        if key not in _TEXT_KEYS and key in CUSTOM_KEYS:
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"`method_spec={text}`: {key}={value} is "
                                 "not a number.") from None
        settings[key] = value
    return name.strip(), settings


def as_method(method):
    """The `Method` of a name of `METHODS`, or ``method`` if it is one."""
    return method if isinstance(method, Method) else METHODS[method]


def check_request(methods, baseline, seeds, custom=None):
    """Raises `ValueError` on unknown methods, a baseline not among them, a
    repeated method, a bad user-defined method or one not asked for, or
    fewer than one seed (before anything runs).

    Args:
        methods: the names to run, of `METHODS` or of ``custom``.
        baseline: the name the others are paired against.
        seeds: the number of seeds.
        custom: the user-defined methods, ``{name: settings}`` (see
            `custom_method`).

    Returns:
        ``{name: Method}`` in the order of ``methods``.
    """
    methods = tuple(methods)
    defined = {name: custom_method(name, settings)
               for name, settings in (custom or {}).items()}
    unknown = [m for m in methods if m not in METHODS and m not in defined]
    if unknown:
        raise ValueError(f"Unknown method(s) {', '.join(unknown)}; choose "
                         f"from: {', '.join(METHODS)}; or define "
                         f"{unknown[0]} by its settings "
                         f"(`method_spec={unknown[0]}:loss=...`, see "
                         "docs/compare.md).")
    unasked = [m for m in defined if m not in methods]
    if unasked:
        raise ValueError(f"{', '.join(unasked)} is defined (`method_spec`) "
                         "but not among `methods`; add it to `methods`.")
    if not methods or len(set(methods)) != len(methods):
        raise ValueError(f"`methods` must name each method once, got "
                         f"{','.join(methods) or 'none'}.")
    if baseline not in methods:
        raise ValueError(f"`baseline={baseline}` is not among `methods`="
                         f"{','.join(methods)}; add it or choose another.")
    if int(seeds) != seeds or seeds < 1:
        raise ValueError(f"`seeds` must be an integer >= 1, got {seeds}.")
    return {m: defined.get(m) or METHODS[m] for m in methods}


def run_config(config, method, seed, output_dir):
    """The `RunConfig` of one (method, seed) run.

    Args:
        config: the comparison's base `RunConfig`.
        method: a name of `METHODS`, or a `Method`.
        seed: the run's seed.
        output_dir: the run's folder.

    Raises:
        ValueError: from `RunConfig` on settings it refuses.
    """
    spec = as_method(method)
    changes = dict(spec.settings, seed=seed, output_dir=str(output_dir))
    if spec.distilled and changes.get("mixing", "none") != "none":
        changes.pop("mixup_alpha", None)  # the base's Beta parameter
    if not spec.distilled:
        changes["model"] = config.student
    return dataclasses.replace(config, **changes)

