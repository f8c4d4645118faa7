"""Gates a claim declares before any run; a failed gate makes the verdict "not testable here".

Each constructor returns a `Gate`. Checks read the per-seed run records, so a claim's `run` returns
a dict with the numbers its gates need (e.g. `{"value": acc, "censored": hit_cap}`).

- `censoring(...)`: an arm hit its step or epoch cap in most seeds (its metric then says nothing).
- `premise(...)`: the condition the paper's effect needs, measured on the baseline arm alone.
- `above_chance(...)`, `loss_decreased(...)`, `finite_metric()`: training health, on both arms.

Example:
    >>> from trainlab.claims.gates import premise
    >>> g = premise("noise_cost", ">=", 5.0, "label noise costs cross-entropy >= 5 points of clean accuracy")
    >>> g.evaluate({"baseline": [{"value": 60.0, "noise_cost": 9.0}] * 3, "treatment": []})["passed"]
    True
"""

from __future__ import annotations

import math
import operator
from typing import Any, Mapping, Sequence

import numpy as np

from .base import ARMS, Gate, Records

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def _values(recs: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    missing = [i for i, r in enumerate(recs) if key not in r]
    if missing:
        raise KeyError(f"run records lack {key!r} (the claim's run must return it for its gate)")
    return np.asarray([float(r[key]) for r in recs], dtype=float)


def finite_metric() -> Gate:
    """Health: every run of both arms returned a finite metric (applied to every claim)."""

    def check(records: Records) -> tuple[bool, str]:
        bad = {arm: sum(not math.isfinite(float(r["value"])) for r in records[arm]) for arm in ARMS}
        if any(bad.values()):
            return False, ", ".join(f"{arm}: {k} non-finite" for arm, k in bad.items() if k)
        return True, "all finite"

    return Gate("health: finite metric", "health", "every run returned a finite metric", check)


def censoring(key: str = "censored", arms: Sequence[str] = ARMS, description: str = "") -> Gate:
    """Censoring: fails when, in any of `arms`, more than half the seeds report `record[key]` true."""

    def check(records: Records) -> tuple[bool, str]:
        counts = {arm: int(sum(bool(r.get(key, False)) for r in records[arm])) for arm in arms}
        n = {arm: len(records[arm]) for arm in arms}
        passed = all(counts[a] * 2 <= n[a] for a in arms)
        return passed, ", ".join(f"{a} censored in {counts[a]}/{n[a]} seeds" for a in arms)

    return Gate(f"censoring: {key}", "censoring",
                description or f"at most half the seeds of each arm hit the cap ({key})", check)


def premise(key: str, op: str, threshold: float, description: str, stat: str = "mean") -> Gate:
    """Premise, on the baseline arm alone: `stat` (mean or median) of `record[key]` `op` `threshold`."""
    if op not in _OPS:
        raise ValueError(f"op must be one of {sorted(_OPS)}, got {op!r}")
    if stat not in ("mean", "median"):
        raise ValueError(f"stat must be 'mean' or 'median', got {stat!r}")

    def check(records: Records) -> tuple[bool, str]:
        v = _values(records["baseline"], key)
        s = float(np.mean(v) if stat == "mean" else np.median(v))
        return bool(_OPS[op](s, threshold)), f"baseline {stat} {key} = {s:.4g} (needs {op} {threshold:g})"

    return Gate(f"premise: {key} {op} {threshold:g}", "premise", description, check)


def above_chance(chance: float, margin: float, key: str = "value", arms: Sequence[str] = ARMS) -> Gate:
    """Health: the mean of `record[key]` in each arm exceeds `chance + margin` (an arm at chance did not learn)."""

    def check(records: Records) -> tuple[bool, str]:
        means = {a: float(np.mean(_values(records[a], key))) for a in arms}
        passed = all(m > chance + margin for m in means.values())
        return passed, ", ".join(f"{a} mean {key} {m:.4g}" for a, m in means.items()) + \
            f" (chance {chance:g}, needs > {chance + margin:g})"

    return Gate(f"health: {key} above chance", "health",
                f"each arm's mean {key} exceeds chance ({chance:g}) by more than {margin:g}", check)


def loss_decreased(first: str = "loss_first", last: str = "loss_last", factor: float = 0.9,
                   arms: Sequence[str] = ARMS) -> Gate:
    """Health: in each arm the median final loss is below `factor` times the median initial loss."""

    def check(records: Records) -> tuple[bool, str]:
        parts, passed = [], True
        for a in arms:
            f0 = float(np.median(_values(records[a], first)))
            f1 = float(np.median(_values(records[a], last)))
            ok = math.isfinite(f1) and f1 < factor * f0
            passed &= ok
            parts.append(f"{a} {f0:.4g} -> {f1:.4g}")
        return passed, ", ".join(parts)

    return Gate("health: loss decreased", "health",
                f"each arm's median loss falls below {factor:g} x its initial value", check)
