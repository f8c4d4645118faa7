"""What a claim is, its gates, and the verdict rule fixed before any run.

A claim pairs a baseline run with a treatment run on an embedded task, per seed, and compares one
metric. The rule lives here, in code, and nowhere else (the README quotes it):

    u_i = s * (treatment_i - baseline_i), s = +1 if higher is better else -1   ("improvement")
    n paired seeds, one-sided level a per direction (a = 2.5% with one look; with a declared
    second look, a = 1% at the first look of `seeds` seeds and 1.5% at the second of `second_look`)

    n < 5                         -> inconclusive (too few seeds for a decisive verdict)
    every u_i identical (= u)     -> exact sign test, p = 2^-n:
                                     reproduced     if u >= min_effect and 2^-n <= a
                                     not reproduced if u <  min_effect and 2^-n <= a
    otherwise paired t interval [lo, hi] = mean(u) -/+ t_{1-a, n-1} * sd(u) / sqrt(n):
                                     reproduced     if lo > 0 and mean(u) >= min_effect
                                     not reproduced if hi < min_effect
    anything else                 -> inconclusive

Before the rule is applied, the claim's gates are checked on the runs; if one fails the verdict
is "not testable here" (naming the gate), never "not reproduced". Premise gates see the baseline
arm only, so a setting is chosen for the paper's premise and never for the treatment's result.
Across the claims of a report, Benjamini-Hochberg on the one-sided p-values (per direction)
downgrades decisive verdicts that do not survive it (see `benjamini_hochberg`).
`tests/test_claims_rule.py` simulates the rule and checks its error rates and coverage.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np

RULE = "paired-t/sign-test, n>=5, one-sided 2.5% per direction (1% + 1.5% with a second look), BH across a report"
VERDICTS = ("reproduced", "not reproduced", "inconclusive", "not testable here")
SMOKE = ("ran", "failed")  # quick mode: a smoke test, never a verdict
ARMS = ("baseline", "treatment")
GATE_KINDS = ("censoring", "premise", "health")
MIN_DECISIVE_N = 5
MIN_SEEDS = 5
DEFAULT_SEEDS = 10
ALPHA = 0.025
TWO_LOOK_ALPHAS = (0.01, 0.015)

_CLAIMS: dict[str, "Claim"] = {}

Records = Mapping[str, Sequence[Mapping[str, Any]]]  # arm -> per-seed run records


@dataclass(frozen=True)
class Gate:
    """A condition the runs must meet for the claim to be testable here, declared before any run.

    Args:
        name: short id shown in reports, e.g. "premise: noise costs CE >= 5 points".
        kind: "censoring", "premise" (sees the baseline arm only) or "health".
        description: what is checked, and why, in one sentence.
        check: `check(records) -> (passed, detail)`; `records` maps arm -> list of per-seed run
            records (dicts with "value" and whatever else the claim's run returned).
    """

    name: str
    kind: str
    description: str
    check: Callable[[Records], tuple[bool, str]] = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in GATE_KINDS:
            raise ValueError(f"gate {self.name!r}: kind must be one of {GATE_KINDS}, got {self.kind!r}")

    def evaluate(self, records: Records) -> dict[str, Any]:
        seen = {"baseline": records["baseline"]} if self.kind == "premise" else records
        passed, detail = self.check(seen)
        return {"name": self.name, "kind": self.kind, "description": self.description,
                "passed": bool(passed), "detail": str(detail)}


@dataclass(frozen=True)
class Claim:
    """One paper's headline effect as a seeded baseline-vs-treatment experiment.

    Args:
        name: unique id, e.g. "elr-noisy-digits".
        paper: the paper title exactly as in the catalog.
        statement: the effect in one sentence.
        task: the embedded data and model, in a few words.
        baseline: what the baseline arm runs.
        treatment: what the treatment arm runs.
        metric: what `run` returns, with units.
        direction: "higher" or "lower" (which way the treatment should move the metric).
        min_effect: the smallest effect (metric units, > 0) that counts as reproducing the paper.
        run: `run(arm, seed, config) -> float | dict`, deterministic given its arguments. A dict
            carries the metric under "value" and anything the gates read (e.g. "censored").
        config: hyperparameters fixed from the paper before any run.
        quick: overrides of `config` for `--quick` (a smoke test), never a different method.
        seeds: paired seeds at the first look (>= 10; 5-9 only with `seeds_reason`).
        second_look: total seeds at a pre-declared second look, taken only when the first is
            inconclusive (None: one look). The error rate is split between the looks.
        seeds_reason: why a claim runs fewer than 10 seeds (its cost), shown in reports.
        resolution: the metric's smallest step (e.g. one test example, in metric units), if discrete;
            min_effect must be at least twice it.
        gates: the gates the setting must pass (`trainlab.claims.gates`); every claim also gets the
            health gate "finite metric".
        quick_seeds: seeds in a quick (smoke) run.
        components: registry names the claim exercises.
    """

    name: str
    paper: str
    statement: str
    task: str
    baseline: str
    treatment: str
    metric: str
    direction: str
    min_effect: float
    run: Callable[[str, int, Mapping[str, Any]], Any] = field(repr=False, compare=False)
    config: Mapping[str, Any] = field(default_factory=dict)
    quick: Mapping[str, Any] = field(default_factory=dict)
    seeds: int = DEFAULT_SEEDS
    second_look: int | None = None
    seeds_reason: str = ""
    resolution: float | None = None
    gates: tuple[Gate, ...] = ()
    quick_seeds: int = 2
    components: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.direction not in ("higher", "lower"):
            raise ValueError(f"{self.name}: direction must be 'higher' or 'lower'")
        if not (isinstance(self.min_effect, (int, float)) and math.isfinite(self.min_effect) and self.min_effect > 0):
            raise ValueError(f"{self.name}: min_effect must be a finite number > 0 (the direction gives the sign)")
        if self.resolution is not None and self.min_effect < 2 * self.resolution:
            raise ValueError(f"{self.name}: min_effect {self.min_effect} is under twice the metric's resolution "
                             f"{self.resolution}")
        if self.seeds < MIN_SEEDS:
            raise ValueError(f"{self.name}: seeds must be >= {MIN_SEEDS}, got {self.seeds}")
        if self.seeds < DEFAULT_SEEDS and not self.seeds_reason:
            raise ValueError(f"{self.name}: fewer than {DEFAULT_SEEDS} seeds needs seeds_reason (its cost)")
        if self.second_look is not None and self.second_look <= self.seeds:
            raise ValueError(f"{self.name}: second_look must exceed seeds ({self.seeds}), got {self.second_look}")
        if self.quick_seeds < 1:
            raise ValueError(f"{self.name}: quick_seeds must be >= 1")
        unknown = set(self.quick) - set(self.config)
        if unknown:
            raise ValueError(f"{self.name}: quick overrides unknown config keys {sorted(unknown)}")
        for g in self.gates:
            if not isinstance(g, Gate):
                raise TypeError(f"{self.name}: gates must be Gate objects, got {type(g).__name__}")
        object.__setattr__(self, "gates", tuple(self.gates))
        object.__setattr__(self, "config", MappingProxyType(dict(self.config)))
        object.__setattr__(self, "quick", MappingProxyType(dict(self.quick)))

    def config_for(self, quick: bool) -> dict[str, Any]:
        return {**self.config, **(self.quick if quick else {})}

    def looks(self) -> list[tuple[int, float]]:
        """The declared looks as (total seeds, one-sided level)."""
        if self.second_look is None:
            return [(self.seeds, ALPHA)]
        return [(self.seeds, TWO_LOOK_ALPHAS[0]), (self.second_look, TWO_LOOK_ALPHAS[1])]

    def all_gates(self) -> tuple[Gate, ...]:
        from .gates import finite_metric

        return (finite_metric(), *self.gates)

    def protocol(self) -> dict[str, Any]:
        """Everything fixed before the run that the verdict depends on (hashed into `protocol_hash`)."""
        return {"config": self.config_for(False), "direction": self.direction, "min_effect": self.min_effect,
                "looks": self.looks(), "gates": [g.name for g in self.all_gates()], "rule": RULE}

    def protocol_hash(self) -> str:
        return _hash(self.protocol())


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=repr).encode()).hexdigest()[:10]


def claim(**fields: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: `@claim(name=..., paper=..., ...)` on the `run(arm, seed, config)` function."""

    def decorator(run: Callable[..., Any]) -> Callable[..., Any]:
        c = Claim(run=run, **fields)
        if c.name in _CLAIMS:
            raise ValueError(f"claim {c.name!r} is already defined")
        _CLAIMS[c.name] = c
        return run

    return decorator


def all_claims() -> list[Claim]:
    return sorted(_CLAIMS.values(), key=lambda c: c.name)


def get_claim(name: str) -> Claim:
    return _CLAIMS[name]


@dataclass(frozen=True)
class Decision:
    """The rule's output; `ci_low`/`ci_high` are in treatment - baseline units (NaN for the sign test)."""

    verdict: str
    n: int
    mean: float
    ci_low: float
    ci_high: float
    p_reproduced: float  # one-sided p-value of H0: improvement <= 0
    p_not_reproduced: float  # one-sided p-value of H0: improvement >= min_effect
    alpha: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def decide_batch(diffs: Any, direction: str, min_effect: float, alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """The rule on many rows of paired differences at once (k, n) -> arrays of length k.

    Returns verdict (strings), mean, ci_low, ci_high (treatment - baseline units), p_reproduced,
    p_not_reproduced and method ("paired t" / "sign test" / "none"). `decide` is this on one row.
    """
    from scipy import stats

    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', got {direction!r}")
    d = np.atleast_2d(np.asarray(diffs, dtype=float))
    if not np.all(np.isfinite(d)):
        raise ValueError("a run returned a non-finite metric; the claim cannot be judged")
    k, n = d.shape
    sign = 1.0 if direction == "higher" else -1.0
    u = sign * d
    out = {"verdict": np.full(k, "inconclusive", dtype=object), "mean": d.mean(axis=1) if n else np.full(k, np.nan),
           "ci_low": np.full(k, np.nan), "ci_high": np.full(k, np.nan), "p_reproduced": np.full(k, np.nan),
           "p_not_reproduced": np.full(k, np.nan), "method": np.full(k, "none", dtype=object)}
    if n < 2:
        return out
    mean_u = u.mean(axis=1)
    same = np.ptp(u, axis=1) == 0
    # identical differences: no spread for a t interval; the exact sign test, p = 2^-n
    p_sign = 0.5 ** n
    out["p_reproduced"][same] = np.where(mean_u[same] > 0, p_sign, 1.0)
    out["p_not_reproduced"][same] = np.where(mean_u[same] < min_effect, p_sign, 1.0)
    out["method"][same] = "sign test"
    t = ~same
    se = u[t].std(axis=1, ddof=1) / math.sqrt(n)
    q = float(stats.t.ppf(1 - alpha, n - 1))
    lo, hi = mean_u[t] - q * se, mean_u[t] + q * se
    out["p_reproduced"][t] = stats.t.sf(mean_u[t] / se, n - 1)
    out["p_not_reproduced"][t] = stats.t.cdf((mean_u[t] - min_effect) / se, n - 1)
    out["ci_low"][t], out["ci_high"][t] = (lo, hi) if sign > 0 else (-hi, -lo)
    out["method"][t] = "paired t"
    if n >= MIN_DECISIVE_N:
        rep = np.where(same, (mean_u >= min_effect) & (out["p_reproduced"] <= alpha), False)
        nrep = np.where(same, (mean_u < min_effect) & (out["p_not_reproduced"] <= alpha), False)
        rep[t] = (lo > 0) & (mean_u[t] >= min_effect)
        nrep[t] = hi < min_effect
        out["verdict"][rep] = "reproduced"
        out["verdict"][nrep] = "not reproduced"
    return out


def decide(diffs: Sequence[float], direction: str, min_effect: float, alpha: float = ALPHA) -> Decision:
    """Apply the fixed rule to paired differences treatment - baseline (see the module docstring)."""
    d = np.asarray(diffs, dtype=float).reshape(-1)
    if d.size == 0:
        nan = math.nan
        return Decision("inconclusive", 0, nan, nan, nan, nan, nan, alpha, "none")
    r = decide_batch(d[None, :], direction, min_effect, alpha)
    return Decision(str(r["verdict"][0]), int(d.size), float(r["mean"][0]), float(r["ci_low"][0]),
                    float(r["ci_high"][0]), float(r["p_reproduced"][0]), float(r["p_not_reproduced"][0]), alpha,
                    str(r["method"][0]))


def verdict(diffs: Sequence[float], direction: str, min_effect: float) -> tuple[str, float, float, float]:
    """One-look rule at 2.5% one-sided: (verdict, mean diff, ci_low, ci_high) of treatment - baseline."""
    r = decide(diffs, direction, min_effect)
    return r.verdict, r.mean, r.ci_low, r.ci_high


def benjamini_hochberg(pvalues: Sequence[float], q: float) -> list[bool]:
    """Step-up Benjamini-Hochberg: which hypotheses are rejected at false-discovery rate `q`."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    below = p[order] <= q * np.arange(1, m + 1) / m
    k = int(np.nonzero(below)[0].max()) + 1 if below.any() else 0
    rejected = np.zeros(m, dtype=bool)
    rejected[order[:k]] = True
    return rejected.tolist()

