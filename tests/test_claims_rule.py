"""The verdict rule, simulated: error rates and interval coverage at the documented levels.

Each simulation draws paired differences with normal noise through the real `decide` (fixed RNG,
20,000 draws: the standard error of an estimated 2.5% rate is 0.11 points, of 95% coverage 0.15).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainlab.claims.base import ALPHA, TWO_LOOK_ALPHAS, benjamini_hochberg, decide, decide_batch

DRAWS = 20_000


def simulate(effect: float, sigma: float, m: float, n: int, direction: str = "higher", seed: int = 0):
    rng = np.random.default_rng(seed)
    sign = 1 if direction == "higher" else -1
    diffs = sign * (effect + sigma * rng.standard_normal((DRAWS, n)))
    return decide_batch(diffs, direction, m)["verdict"]


def rate(verdicts, verdict):
    return float(np.mean(verdicts == verdict))


def bound(p):  # the nominal rate plus three standard errors of its estimate
    return p + 3 * math.sqrt(p * (1 - p) / DRAWS)


@pytest.mark.parametrize("sigma_over_m", [1.0, 2.0])
@pytest.mark.parametrize("direction", ["higher", "lower"])
def test_false_verdicts_at_ten_seeds_stay_under_the_level(sigma_over_m, direction):
    m = 0.5
    at_zero = simulate(0.0, sigma_over_m * m, m, 10, direction)
    assert rate(at_zero, "reproduced") <= bound(ALPHA)
    at_m = simulate(m, sigma_over_m * m, m, 10, direction, seed=1)
    assert rate(at_m, "not reproduced") <= bound(ALPHA)
    # ...and the rule is not vacuous: a large effect is found, a null one refuted (sigma = m)
    if sigma_over_m == 1.0:
        assert rate(simulate(2 * m, m, m, 10, direction, seed=2), "reproduced") > 0.95
        assert rate(at_zero, "not reproduced") > 0.7


def test_interval_coverage_is_95_percent_under_normal_noise():
    rng = np.random.default_rng(3)
    true = 0.7
    d = true + 1.3 * rng.standard_normal((DRAWS, 10))
    r = decide_batch(d, "higher", 0.5)
    covered = np.mean((r["ci_low"] <= true) & (true <= r["ci_high"]))
    assert 0.94 <= covered <= 0.96
    # the same at n = 5 and n = 20, and for lower-is-better claims
    for n in (5, 20):
        r = decide_batch(-(true + rng.standard_normal((DRAWS, n))), "lower", 0.5)
        assert 0.94 <= np.mean((r["ci_low"] <= -true) & (-true <= r["ci_high"])) <= 0.96


def test_two_looks_split_the_error_between_them():
    # first look 10 seeds at 1%, second look (only if inconclusive) 20 seeds at 1.5%
    rng = np.random.default_rng(4)
    m, sigma = 0.5, 1.0
    for effect, wrong in ((0.0, "reproduced"), (m, "not reproduced")):
        d = effect + sigma * rng.standard_normal((DRAWS, 20))
        first = decide_batch(d[:, :10], "higher", m, TWO_LOOK_ALPHAS[0])["verdict"]
        second = decide_batch(d, "higher", m, TWO_LOOK_ALPHAS[1])["verdict"]
        final = np.where(first == "inconclusive", second, first)
        assert rate(final, wrong) <= bound(ALPHA)


def test_identical_differences_use_the_exact_sign_test():
    r = decide([1.0] * 10, "higher", 0.5)
    assert (r.verdict, r.method) == ("reproduced", "sign test") and r.p_reproduced == 0.5 ** 10
    assert math.isnan(r.ci_low) and math.isnan(r.ci_high)  # never a zero-width interval
    assert decide([0.0] * 10, "higher", 0.5).verdict == "not reproduced"
    assert decide([0.2] * 10, "lower", 0.5).verdict == "not reproduced"  # wrong direction
    # 2^-5 = 3.1% > 2.5%: five identical seeds do not decide
    assert decide([1.0] * 5, "higher", 0.5).verdict == "inconclusive"


def test_fewer_than_five_seeds_never_decide():
    assert decide([3.0, 3.1, 2.9, 3.05], "higher", 0.5).verdict == "inconclusive"
    assert decide([3.0, 3.1, 2.9, 3.05, 3.02], "higher", 0.5).verdict == "reproduced"


def test_rule_cases_and_bad_input():
    assert decide([1.0, 1.2, 0.9, 1.1, 1.05, 0.95], "higher", 0.5).verdict == "reproduced"
    assert decide([0.1, 0.2, 0.15, 0.12, 0.18, 0.11], "higher", 0.5).verdict == "not reproduced"
    assert decide([-1.0, 1.0, 0.2, 0.5, -0.3, 0.8], "higher", 0.5).verdict == "inconclusive"
    assert decide([-1.0, -1.2, -0.9, -1.1, -1.05, -0.95], "lower", 0.5).verdict == "reproduced"
    # significant but short of the minimum effect: neither reproduced nor refuted
    assert decide([0.3, 0.5, 0.4, 0.6, 0.45, 0.35, 0.55, 0.5, 0.4, 0.5], "higher", 0.5).verdict == "inconclusive"
    with pytest.raises(ValueError, match="non-finite"):
        decide([1.0, math.nan], "higher", 0.5)
    with pytest.raises(ValueError, match="direction"):
        decide([1.0, 2.0], "up", 0.5)


def test_benjamini_hochberg_matches_the_step_up_procedure():
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    # thresholds q*k/m at q=0.05, m=10: 0.005, 0.01, 0.015, ...; the largest k with p_(k) <= q*k/m is 2
    assert benjamini_hochberg(p, 0.05) == [True, True] + [False] * 8
    assert benjamini_hochberg([0.04, 0.01], 0.05) == [True, True]
    assert benjamini_hochberg([], 0.05) == []
