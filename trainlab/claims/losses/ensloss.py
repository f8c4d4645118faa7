"""EnsLoss against BCE on breast_cancer.

Every hyperparameter was fixed from the paper or its official code before any run. EnsLoss (official
`main_tab.py`): ReLU + BatchNorm MLP with one logit, SGD lr 1e-4 momentum 0.9 weight decay 5e-6, cosine over
300 epochs, batch 128, lam = 0 (no `period`); breast_cancer. Width/depth are the catalog's 2 x 512 instead of
the official TabMLP3 (3 x 1024), which is ~5x slower than our CPU budget. Metric: test accuracy (%) on the
143 test examples (resolution 0.70).

Minimum effect 1.4 points (two test examples): the statement's 0.5 points is under one test example
here (0.70), below what this test set can resolve, so the minimum effect is raised to twice the
resolution, the smallest gain the rule accepts; the paper's tabular gains over the best fixed loss are
of about this size.
Gates: health: both arms classify above chance (accuracy > 70%, chance 50%); premise (baseline arm):
BCE overfits (EnsLoss is a remedy for overfitting): its train accuracy exceeds its test accuracy by
>= 1.4 points, a gap the treatment could close. Measured on the baseline arm (seeds 0-2): test accuracy
96.5, 97.9, 95.8%; gap 2.3, 1.2, 2.8 points (mean 2.1). Cost: ~7-10 s per run.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ...datasets import load
from ...losses.ensloss import EnsLoss
from ..base import claim
from ..gates import above_chance, premise
from ..tasks import fit

MIN_EFFECT = 1.4


def _tab_mlp(d: int, width: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):  # official TabMLP: Linear -> ReLU -> BatchNorm
        layers += [nn.Linear(d if i == 0 else width, width), nn.ReLU(), nn.BatchNorm1d(width)]
    return nn.Sequential(*layers, nn.Linear(width, 1))


def ensloss_accuracy(use_ensloss: bool, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    """Train the official TabMLP on breast_cancer with EnsLoss or BCE; test accuracy (%) and the train-test gap."""
    x_tr, y_tr, x_te, y_te = load("breast_cancer", seed=seed)
    torch.manual_seed(seed)
    model = _tab_mlp(x_tr.shape[1], config["width"], config["depth"])
    ens = EnsLoss(lam=config["lam"], seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9, weight_decay=config["weight_decay"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config["epochs"])

    def loss_fn(out: torch.Tensor, t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:  # out (B, 1)
        return ens(out, t) if use_ensloss else F.binary_cross_entropy_with_logits(out[:, 0], t.float())

    fit(model, x_tr, y_tr, opt, epochs=config["epochs"], batch_size=config["batch_size"], seed=seed, loss_fn=loss_fn,
        scheduler=sched, min_batch=2)  # BatchNorm needs two rows
    model.eval()
    with torch.no_grad():
        test = 100.0 * ((model(x_te)[:, 0] > 0).long() == y_te).float().mean().item()
        train = 100.0 * ((model(x_tr)[:, 0] > 0).long() == y_tr).float().mean().item()
    return {"value": test, "gap": train - test}


@claim(
    name="ensloss-breast-cancer",
    paper="EnsLoss: Stochastic Calibrated Loss Ensembles for Preventing Overfitting in Classification",
    statement="Training with EnsLoss (random calibrated loss derivatives) raises test accuracy over BCE by >= 1.4 "
              "points on a tabular binary task with an over-parameterised MLP.",
    task="breast_cancer (75/25 split, z-scored), ReLU+BatchNorm MLP 2x512 (official TabMLP style), SGD 300 epochs",
    baseline="BCE (logistic loss)", treatment="EnsLoss (lam=0)",
    metric="test accuracy (%)", direction="higher", min_effect=MIN_EFFECT, resolution=100 / 143,
    config={"width": 512, "depth": 2, "lam": 0.0, "lr": 1e-4, "weight_decay": 5e-6, "batch_size": 128,
            "epochs": 300},
    quick={"epochs": 50}, quick_seeds=2,
    gates=(above_chance(50.0, 20.0),
           premise("gap", ">=", MIN_EFFECT, "BCE overfits: its train accuracy exceeds its test accuracy by at least "
                   "the minimum effect")),
    components=("ensloss",),
)
def ensloss_breast_cancer(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    return ensloss_accuracy(arm == "treatment", seed, config)
