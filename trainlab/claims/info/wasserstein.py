"""The Wasserstein dependency measure against InfoNCE: no saturation at high MI.

wdm-no-saturation (set-up fixed before any run, from the catalog's claim hint and the SMILE paper's Gaussian
benchmark): x, y in R^20, per-coordinate rho chosen so that the true MI is 20 and 40 nats; batch 128; Adam lr
5e-4 (SMILE code); every step on FRESH samples. Baseline: InfoNCE with the SMILE code's separable critic
(ReLU 256x2 -> 32). Treatment: the Kantorovich-Rubinstein objective mean_i f(x_i, y_i) - mean_{i != j} f(x_i, y_j)
of a spectrally normalised concatenated critic (`WassersteinDependencyMeasure`, width 32, 2 hidden layers)
trained by ascending it. Reported value per level: the mean per-step estimate over the last quarter of training.
Deviations: the width-32 Lipschitz critic (not 256) and 600 steps per level (not 4000) keep the run within
budget (the concatenated critic scores all B^2 pairs); the paper itself uses a gradient penalty where we use
spectral norm.

Metric (changed from the Spearman correlation over six levels 2..40 nats, which was 1 in both arms in every
seed: InfoNCE's estimate creeps towards log 128 monotonically, so a rank correlation cannot see saturation):
ln(E40 / E20), the growth of the estimate when the true MI doubles from 20 to 40 nats, both far above log 128 =
4.85. An estimator that keeps increasing with MI grows (ln 2 = 0.69 for one linear in MI); a saturated one stays
flat (~0). Minimum effect 0.1 (a 10.5% larger growth of the estimate, about a seventh of a linear estimator's):
the smallest growth we would call "still increasing" rather than saturated; the paper states no number here.
Gates: premise (baseline run only) -- InfoNCE is saturated at 20 nats: its estimate is within 0.5 nats of
log 128; health -- each arm's estimate at 20 nats is > 0 (the critic learned; the log ratio needs it).
Cost (full mode, one thread, loaded 2-core machine): ~18 s (InfoNCE) and ~14 s (WDM) per run, so 5 seeds.
Baseline premise (full mode, baseline arm only, seeds 0-2): InfoNCE at 20 / 40 nats = 4.846 / 4.851, 4.847 / 4.851,
4.845 / 4.851 nats (ceiling log 128 = 4.852).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import nn

from ...datasets import load
from ...info.critics import SeparableCritic
from ...info.variational import infonce_bound
from ...info.wasserstein import WassersteinDependencyMeasure
from ..base import claim
from ..gates import above_chance, premise


WDM_PAPER = "Wasserstein Dependency Measure for Representation Learning"


WDM_CONFIG = {"d": 20, "levels": (20.0, 40.0), "batch_size": 128, "lr": 5e-4,
              "steps": 600, "wdm_hidden": 32, "wdm_layers": 2}
WDM_QUICK = {"steps": 80}


def level_estimate(method: str, mi: float, seed: int, config: Mapping[str, Any]) -> float:
    """Train `method` ("infonce" or "wdm") at true MI `mi`; mean per-step estimate over the last quarter."""
    steps, b = config["steps"], config["batch_size"]
    split = load("correlated_gaussians", seed=seed, n=steps * b, d=config["d"], mi=mi)
    x, y = split.x_train, split.y_train
    torch.manual_seed(seed)
    if method == "wdm":
        model: nn.Module = WassersteinDependencyMeasure(config["d"], config["d"], hidden=config["wdm_hidden"],
                                                        layers=config["wdm_layers"])
        objective = model
    else:
        model = SeparableCritic(config["d"], config["d"])
        objective = lambda a, c: infonce_bound(model(a, c))  # noqa: E731
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    values = []
    for step in range(steps):  # fresh rows every step: the critic never sees a sample twice
        value = objective(x[step * b:(step + 1) * b], y[step * b:(step + 1) * b])
        opt.zero_grad(set_to_none=True)
        (-value).backward()
        opt.step()
        values.append(value.item())
    window = values[-max(1, steps // 4):]
    return sum(window) / len(window)


def sweep(method: str, seed: int, config: Mapping[str, Any]) -> list[float]:
    """Estimates at every MI level of `config["levels"]`."""
    return [level_estimate(method, mi, seed, config) for mi in config["levels"]]


@claim(
    name="wdm-no-saturation",
    paper=WDM_PAPER,
    statement="Where the InfoNCE estimate (batch 128) has saturated near log 128 = 4.85 nats, the Wasserstein "
              "dependency measure keeps increasing with the true MI of 20-d correlated Gaussians: from 20 to 40 "
              "nats its log growth ln(E40 / E20) is larger by at least 0.1.",
    task="correlated Gaussians d=20, true MI 20 and 40 nats, fresh batches of 128, 600 steps per level",
    baseline="InfoNCE, separable critic 256x2 -> 32", treatment="WDM (KR objective), spectral-norm concat critic 32x2",
    metric="ln(estimate at 40 nats / estimate at 20 nats)",
    direction="higher", min_effect=0.1,
    config=WDM_CONFIG, quick=WDM_QUICK, quick_seeds=2,
    seeds=5, seeds_reason="~14-18 s per run (two 600-step critic trainings) on the shared 2-core machine",
    gates=(above_chance(0.0, 0.0, key="e20"),
           premise("ceiling_gap_20", "<=", 0.5, "InfoNCE is saturated at 20 nats: its estimate is within 0.5 nats of "
                   "its ceiling log 128")),
    components=("wasserstein_dependency_measure", "wasserstein_dependency", "lipschitz", "infonce_bound"),
)
def wdm_no_saturation(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    e20, e40 = sweep("infonce" if arm == "baseline" else "wdm", seed, config)
    return {"value": math.log(max(e40, 1e-6) / max(e20, 1e-6)), "e20": e20, "e40": e40,
            "ceiling_gap_20": math.log(config["batch_size"]) - e20}
