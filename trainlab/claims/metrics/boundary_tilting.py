"""Boundary tilting: regularisation strength and the deviation angle of a linear classifier.

Settings fixed before any run (catalog hints; the papers where the hints are silent):
boundary-tilting-regularisation: digits 3 vs 8, sklearn LogisticRegression, C = 1e-3 vs C = 1e3;
metric = deviation angle (degrees) from the nearest-centroid direction on the training split.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ...datasets import load
from ...metrics.boundary_tilting import deviation_angle
from ..base import claim


@claim(
    name="boundary-tilting-regularisation",
    paper="A Boundary Tilting Persepective on the Phenomenon of Adversarial Examples",
    statement="Weaker regularisation tilts a linear classifier's boundary away from the nearest-centroid "
              "direction (larger deviation angle, i.e. stronger adversarial examples).",
    task="digits 3 vs 8, logistic regression",
    baseline="C = 1e-3 (strong L2 regularisation)", treatment="C = 1e3 (weak)",
    metric="deviation angle from mu_8 - mu_3 (degrees)", direction="higher", min_effect=10.0,
    config={"c_strong": 1e-3, "c_weak": 1e3, "max_iter": 5000}, quick={}, quick_seeds=2,
    components=("boundary_tilting_angle",),
)
def boundary_tilting(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    from sklearn.linear_model import LogisticRegression

    split = load("digits", seed=seed)
    keep = (split.y_train == 3) | (split.y_train == 8)
    x, y = split.x_train[keep].double(), (split.y_train[keep] == 8).long()
    c = config["c_strong"] if arm == "baseline" else config["c_weak"]
    clf = LogisticRegression(C=c, max_iter=config["max_iter"]).fit(x.numpy(), y.numpy())
    return deviation_angle(torch.from_numpy(clf.coef_[0]), x, y)
