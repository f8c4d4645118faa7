"""USEFUL: up-sampling the slow-learnable cluster of each class on a synthetic simplicity-bias task.

Fixed before any run (catalog row 250): synthetic binary task, 70% of examples carry an easy large-margin
feature, all carry a weaker 20-dim "patch" feature; MLP 2x64, SGD lr 0.05 momentum 0.9, batch 64, 30 epochs;
separating epoch 2, k = 2 clusters per class, the slow cluster duplicated once (factor 2), then
retrained from scratch for the same 30 epochs. Metric: test accuracy on 4,000 fresh test examples.

Minimum effect: 1 point (the catalog's number for the synthetic set); resolution 100/4000 = 0.025 points.
Premise gate (baseline run only): there is room for a 1-point gain -- the Bayes classifier of the generator
(exact log-likelihood ratio of the easy and patch coordinates) beats the baseline on the same test set by >= 1.5
points (the minimum effect + 0.5). Health: each arm's accuracy exceeds 70% (chance 50%).
Baseline measurements (full mode, seeds 0-3, `c.run("baseline", s, c.config_for(False))`): Bayes - baseline =
0.70 / 1.15 / 0.75 / 0.80 points (baseline 97.2-97.5%, Bayes 97.9-98.3%): only the 30% of examples without
the easy feature can improve, and the baseline is within ~3 points of Bayes on them. Probing the premise on the
baseline only, with n_train 500 / 300 the room was 1.03 / 1.26 points and with 100 / 200 noise dimensions 1.27 /
1.55 points (seeds 0-3). Only the tenfold noise dimensions scrape past 1.5, with no reason from the paper for
them, and a gain of 1 point out of 1.55 would still need near-Bayes training; so the catalog's setting is kept and
the claim is expected to be "not testable here": this generator leaves no room for a 1-point in-distribution gain.
Cost (full mode, one thread): ~0.9 s (baseline) and ~2 s (treatment) per run; a second look at 20 seeds is declared.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...data.useful import useful_upsample
from ..base import claim
from ..gates import above_chance, premise
from ..tasks import accuracy, mlp, train_epochs


def _useful_data(seed: int, n: int, c: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x (n, 1 + patch_dim + noise_dim), y (n,), has_easy (n,) bool)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    s = (2 * y - 1).float()[:, None]  # (n, 1) in {-1, +1}
    has_easy = (torch.rand(n, 1, generator=g) < c["easy_fraction"]).float()
    easy = has_easy * s * c["easy_margin"] + c["easy_noise"] * torch.randn(n, 1, generator=g)
    u = torch.ones(c["patch_dim"]) / c["patch_dim"] ** 0.5  # unit direction of the patch feature
    patch = s * c["patch_margin"] * u + torch.randn(n, c["patch_dim"], generator=g)
    rest = torch.randn(n, c["noise_dim"], generator=g)
    return torch.cat([easy, patch, rest], 1), y, has_easy[:, 0].bool()


def bayes_predictions(x: torch.Tensor, c: Mapping[str, Any]) -> torch.Tensor:
    """The Bayes classifier of the generator: sign of the exact log-likelihood ratio of y = 1 vs y = 0."""
    u = torch.ones(c["patch_dim"]) / c["patch_dim"] ** 0.5
    llr_patch = 2 * c["patch_margin"] * (x[:, 1:1 + c["patch_dim"]] @ u)  # N(+-m u, I)
    e, var, f = x[:, 0], c["easy_noise"] ** 2, c["easy_fraction"]

    def log_lik(sign: float) -> torch.Tensor:  # easy coordinate: f N(sign * margin, var) + (1 - f) N(0, var)
        return torch.logaddexp(math.log(f) - (e - sign * c["easy_margin"]) ** 2 / (2 * var),
                               math.log(1 - f) - e ** 2 / (2 * var))

    return (llr_patch + log_lik(1.0) - log_lik(-1.0) > 0).long()


def _useful_train(x, y, seed: int, epochs: int, c: Mapping[str, Any]) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = mlp(x.shape[1], c["hidden"], 2)
    opt = torch.optim.SGD(model.parameters(), lr=c["lr"], momentum=c["momentum"])
    train_epochs(model, x, y, lambda z, t, i: F.cross_entropy(z, t), opt, epochs=epochs,
                 batch_size=c["batch_size"], generator=torch.Generator().manual_seed(seed))
    return model


@claim(
    name="useful-synthetic",
    paper="Changing the Training Data Distribution to Reduce Simplicity Bias Improves In-distribution Generalization",
    statement="Up-sampling the slow-learnable k-means cluster of each class (found after 2 epochs) and retraining "
              "improves in-distribution test accuracy by >= 1 point over standard training.",
    task="synthetic binary data: 70% carry an easy large-margin feature, all a weaker 20-dim patch feature; MLP 2x64",
    baseline="standard training, 30 epochs", treatment="useful_upsample (k=2, factor 2) at epoch 2, retrain 30 epochs",
    metric="test accuracy (%)", direction="higher", min_effect=1.0,
    config={"n_train": 1000, "n_test": 4000, "easy_fraction": 0.7, "easy_margin": 3.0, "easy_noise": 0.3,
            "patch_dim": 20, "patch_margin": 1.5, "noise_dim": 20, "hidden": 64, "lr": 0.05, "momentum": 0.9,
            "batch_size": 64, "epochs": 30, "separating_epoch": 2},
    quick={"epochs": 15}, quick_seeds=2, second_look=20, resolution=100 / 4000,
    gates=(above_chance(50.0, 20.0),
           premise("room", ">=", 1.5, "room for the gain: the generator's Bayes classifier beats the baseline by "
                   ">= 1.5 points (the minimum effect + 0.5) on the same test set")),
    components=("useful_upsample",),
)
def useful_synthetic(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    x, y, _ = _useful_data(seed, config["n_train"], config)
    x_te, y_te, easy_te = _useful_data(10_000 + seed, config["n_test"], config)
    if arm == "treatment":
        early = _useful_train(x, y, seed, config["separating_epoch"], config)
        with torch.no_grad():
            early.eval()
            sel = useful_upsample(early(x), y, num_clusters=2, factor=2, seed=seed)
        x, y = x[sel.indices], y[sel.indices]
    model = _useful_train(x, y, seed, config["epochs"], config)
    bayes = 100.0 * float((bayes_predictions(x_te, config) == y_te).float().mean())
    acc = accuracy(model, x_te, y_te)
    return {"value": acc, "bayes_accuracy": bayes, "room": bayes - acc,
            "hard_accuracy": accuracy(model, x_te[~easy_te], y_te[~easy_te])}
