"""The ways of training a student that ``mixkd compare`` knows, by name.

A `Method` is a set of `keras_mixkd.training.RunConfig` fields; `run_config`
applies one to the comparison's base configuration for one seed.

Example:

```python
run = run_config(base, "mixkd", seed=1, output_dir="runs/c/runs/mixkd/seed-1")
run.loss, run.mixing  # ('mixstd', 'pmu')
```
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Method:
    """One way of training the student.

    Attributes:
        description: one line, for help texts and reports.
        settings: the `RunConfig` fields this method sets (the others come
            from the base configuration).
        distilled: False for the student trained alone (no teacher).
    """

    description: str
    settings: dict
    distilled: bool = True


def _settings(loss, mixing="none", sampling="official", temperature=None):
    """A method's `RunConfig` fields. Partial mixup mixes 10% (the official
    ``--partmixup 0.9``); the mixing settings of other mixings keep their
    defaults, and without mixing ``mixup_alpha`` is None (the engine's
    rule)."""
    settings = {"loss": loss, "temperature": temperature, "mixing": mixing,
                "mix_fraction": 0.1, "mix_sampling": sampling}
    if mixing == "none":
        settings["mixup_alpha"] = None
    return settings


#: The methods `compare` knows, by name.
METHODS = {
    "alone": Method(
        "the student trained alone: cross-entropy on the labels, no teacher, "
        "no mixing", {"mixup_alpha": None}, distilled=False),
    "kd": Method(
        "classic KD (Hinton), T=4 with T^2 scaling, CE 0.1 + KD 0.9, no "
        "mixing", _settings("kd", temperature=4.0)),
    "mixkd": Method(
        "the paper's recipe as the official code runs it: MIXSTD loss, "
        "partial mixup of 10% with official sampling (~41% of rows mixed at "
        "batch 64), CE 0.1 + KD 0.9",
        _settings("mixstd", "pmu")),
    "mixkd_exact": Method(
        "mixkd with exact partial-mixup sampling: 10% of each batch mixed, "
        "as the paper describes",
        _settings("mixstd", "pmu", "exact")),
    "fmu_kd": Method(
        "full mixup + classic KD at T=4 (the setting the paper says "
        "over-smooths), CE 0.1 + KD 0.9",
        _settings("kd", "fmu", temperature=4.0)),
    "pmu_kd": Method(
        "partial mixup (10%, official sampling) + classic KD at T=4, CE 0.1 "
        "+ KD 0.9",
        _settings("kd", "pmu", temperature=4.0)),
    "mixstd": Method(
        "the MIXSTD loss (logits divided by their std, CE 0.1 + KD 0.9) "
        "without mixing",
        _settings("mixstd")),
    "ls": Method(
        "logit standardization (Sun et al.) with the package's defaults: "
        "tau 2 with tau^2 scaling, CE on raw logits, CE 0.1 + KD 0.9 (the "
        "paper's 1 + 9, scaled by 1/10), no mixing",
        _settings("ls")),
    "dkd": Method(
        "decoupled KD (Zhao et al.) with the package's defaults: alpha 1, "
        "beta 8, T 4, plain CE, CE 0.1 + KD 0.9, no mixing",
        _settings("dkd")),
    "dist": Method(
        "DIST (Huang et al.) with the package's defaults: inter- and "
        "intra-class Pearson correlation, beta = gamma = 1, T 1, plain CE, "
        "CE 0.1 + KD 0.9, no mixing",
        _settings("dist")),
}

#: What ``mixkd compare`` runs by default.
DEFAULT_METHODS = ("alone", "kd", "mixkd", "mixkd_exact", "mixstd", "fmu_kd")

#: Settings the methods or the comparison choose per run: not part of the
#: base configuration a folder is bound to.
PER_RUN_KEYS = ("seed", "output_dir", "verbose", "model", "weights",
                "preset", "loss", "mixing", "mix_fraction", "mix_sampling",
                "temperature")


def check_request(methods, baseline, seeds):
    """Raises `ValueError` on unknown methods, a baseline not among them, a
    repeated method or fewer than one seed (before anything runs).

    Returns:
        The methods as a tuple.
    """
    methods = tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {', '.join(unknown)}; choose "
                         f"from: {', '.join(METHODS)}.")
    if not methods or len(set(methods)) != len(methods):
        raise ValueError(f"--methods must name each method once, got "
                         f"{','.join(methods) or 'none'}.")
    if baseline not in methods:
        raise ValueError(f"--baseline={baseline} is not among --methods="
                         f"{','.join(methods)}; add it or choose another.")
    if int(seeds) != seeds or seeds < 1:
        raise ValueError(f"--seeds must be an integer >= 1, got {seeds}.")
    return methods


def run_config(config, method, seed, output_dir):
    """The `RunConfig` of one (method, seed) run."""
    spec = METHODS[method]
    changes = dict(spec.settings, seed=seed, output_dir=str(output_dir))
    if spec.distilled and changes.get("mixing", "none") != "none":
        changes.pop("mixup_alpha", None)  # the base's Beta parameter
    if not spec.distilled:
        changes["model"] = config.student
    return dataclasses.replace(config, **changes)

