"""The Wasserstein dependency measure against InfoNCE: no saturation at high MI.

wdm-no-saturation (set-up fixed before any run, from the catalog's claim hint and the SMILE paper's Gaussian
benchmark): x, y in R^20, per-coordinate rho chosen so that the true MI is 2, 5, 10, 20, 30, 40 nats (six
levels); batch 128; Adam lr 5e-4 (SMILE code); every step on FRESH samples. Baseline: InfoNCE with the
SMILE code's separable critic (ReLU 256x2 -> 32). Treatment: the Kantorovich-Rubinstein objective
mean_i f(x_i, y_i) - mean_{i != j} f(x_i, y_j) of a spectrally normalised concatenated critic
(`WassersteinDependencyMeasure`, width 32, 2 hidden layers) trained by ascending it. Reported value per level:
the mean per-step estimate over the last quarter of training. Metric: Spearman rank correlation between true
MI and the estimate over the six levels. Deviations: the width-32 Lipschitz critic (not 256) and 600 steps
per level (not 4000) keep the full run within budget (the concatenated critic scores all B^2 pairs); the
paper itself uses a gradient penalty where we use spectral norm.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from scipy import stats
from torch import nn

from ...datasets import load
from ...info.critics import SeparableCritic
from ...info.variational import infonce_bound
from ...info.wasserstein import WassersteinDependencyMeasure
from ..base import claim


WDM_PAPER = "Wasserstein Dependency Measure for Representation Learning"


WDM_CONFIG = {"d": 20, "levels": (2.0, 5.0, 10.0, 20.0, 30.0, 40.0), "batch_size": 128, "lr": 5e-4,
              "steps": 600, "wdm_hidden": 32, "wdm_layers": 2}
WDM_QUICK = {"steps": 150}


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
    statement="As the true MI of 20-d correlated Gaussians grows from 2 to 40 nats (batch 128), the InfoNCE "
              "estimate saturates near log 128 = 4.85 nats while the Wasserstein dependency measure keeps "
              "increasing monotonically (Spearman 1 over six levels), i.e. its rank correlation with the true "
              "MI is higher by at least 0.1.",
    task="correlated Gaussians d=20, true MI 2/5/10/20/30/40 nats, fresh batches of 128",
    baseline="InfoNCE, separable critic 256x2 -> 32", treatment="WDM (KR objective), spectral-norm concat critic 32x2",
    metric="Spearman rank correlation between true MI and the final estimate over the six levels",
    direction="higher", min_effect=0.1,
    config=WDM_CONFIG, quick=WDM_QUICK, quick_seeds=2,
    components=("wasserstein_dependency_measure", "wasserstein_dependency", "lipschitz", "infonce_bound"),
)
def wdm_no_saturation(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    estimates = sweep("infonce" if arm == "baseline" else "wdm", seed, config)
    return float(stats.spearmanr(list(config["levels"]), estimates).statistic)
