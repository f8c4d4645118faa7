"""Feature Gradients against univariate f_regression on a pure-interaction feature.

Fixed before any run (catalog row 193): n = 500, D = 100 standard normal features,
y = 2 x0 x1 + x2 + x3 + x4 + 0.5 eps (x0 x1 has zero marginal correlation with y); k = 10; degree-2
kernel, 300 steps, lr 0.1, batch 256. Baseline: univariate f_regression top-10. Caveat: the annealed budget of
`feature_gradients` was designed after seeing the fixed-budget version miss the x0 x1 pair on this generator
(seeds 0-2).

Metric: true features selected (of 5), averaged over 5 independent data sets per seed (drawn one after the
other from the seed's generator; the first is the one the claim used before). One data set gave a count in
steps of 1 feature, and f_regression's count is 3 on nearly every draw, so identical differences decided the
verdict; the mean over 5 draws has a resolution of 0.2 features.
Minimum effect: 1 feature (catalog: Feature Gradients recovers >= 4/5 true features incl. the interaction pair
where f_regression misses the pair, i.e. gets 3/5).
Premise (baseline run only): the interaction pair is invisible to univariate statistics, the paper's setting --
f_regression's top-10 holds at most 0.5 of {x0, x1} on average.
Cost (full mode, one thread): baseline ~0.2 s, treatment ~4 s per run.
Baseline premise (full mode, baseline arm only, seeds 0-2): f_regression selects 0.0 / 0.4 / 0.6 of the pair;
3.0 / 3.4 / 3.6 true features.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from ...data.feature_gradients import feature_gradients
from ..base import claim
from ..gates import premise


@claim(
    name="feature-gradients-interaction",
    paper="Feature Gradients: Scalable Feature Selection via Discrete Relaxation",
    statement="With k = 10, Feature Gradients recovers more of the 5 relevant features (incl. a pure x0*x1 "
              "interaction) than univariate f_regression: at least 1 more on average.",
    task="synthetic regression, n=500, D=100, y = 2 x0 x1 + x2 + x3 + x4 + 0.5 noise, 5 data sets per seed",
    baseline="f_regression top-10", treatment="feature_gradients(k=10, degree 2, 300 steps)",
    metric="true features selected (of 5), mean over 5 data sets", direction="higher", min_effect=1.0,
    resolution=0.2,
    config={"n": 500, "d": 100, "k": 10, "noise": 0.5, "steps": 300, "lr": 0.1, "batch_size": 256, "degree": 2,
            "datasets": 5},
    quick={"steps": 150, "datasets": 2}, quick_seeds=2,
    gates=(premise("pair_selected", "<=", 0.5, "the x0*x1 pair is invisible to univariate statistics: f_regression "
                   "selects at most 0.5 of {x0, x1} on average"),),
    components=("feature_gradients",),
)
def feature_gradients_interaction(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    from sklearn.feature_selection import f_regression

    g = torch.Generator().manual_seed(seed)
    found, pair = [], []
    for r in range(config["datasets"]):
        x = torch.randn(config["n"], config["d"], generator=g, dtype=torch.float64)
        y = 2 * x[:, 0] * x[:, 1] + x[:, 2:5].sum(1) + config["noise"] * torch.randn(config["n"], generator=g,
                                                                                      dtype=torch.float64)
        if arm == "baseline":
            chosen = np.argsort(-f_regression(x.numpy(), y.numpy())[0], kind="stable")[:config["k"]].tolist()
        else:
            chosen = feature_gradients(x, y, config["k"], degree=config["degree"], steps=config["steps"],
                                       lr=config["lr"], batch_size=config["batch_size"],
                                       seed=seed + 1000 * r).indices.tolist()
        found.append(len(set(chosen) & {0, 1, 2, 3, 4}))
        pair.append(len(set(chosen) & {0, 1}))
    return {"value": float(np.mean(found)), "pair_selected": float(np.mean(pair))}
