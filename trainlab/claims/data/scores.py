"""EL2N pruning against a random subset on digits.

Fixed before any run: EL2N scores after 5 epochs of training, averaged over 5 initialisations (catalog; the
paper uses 10 inits at epoch 20 on CIFAR), keep the 50% highest vs a random 50%; then train the MLP
64-128-128-10 with SGD lr 0.1, momentum 0.9, wd 5e-4, batch 128, lr x0.2 at 30/60/80% of 40 epochs (the
Data Diet CIFAR recipe, scaled to 40 epochs).

Minimum effect: 1 point of test accuracy. The paper's CIFAR-10 curves put EL2N-pruned training about 1-2 points
above random pruning at 50% kept; 1 point is the lower end (resolution: one of 450 test images = 0.22 points).
Gates (baseline run only; it also trains the same recipe on the full training set): premise -- data matters:
the random 50% costs >= 1 point (the minimum effect) of full-data accuracy, else no subset can beat it by 1 point
short of beating full data; health -- the random-subset model learned (> 60%, chance 10%). The EL2N arm's
accuracy is not gated: a subset that trains badly is the result.
Cost (full mode, one thread): ~1.2 s (baseline) and ~1.5 s (treatment) per run; a second look at 20 seeds is declared.
Baseline premise (full mode, baseline arm only, seeds 0-2): random-50% cost 1.78 / 1.11 / 0.67 points (full data
96-97%), borderline.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ...data import el2n_scores, prune_by_score
from ...datasets import load
from ..base import claim
from ..gates import above_chance, premise
from ..tasks import accuracy, fit, mlp


def _train_subset(x, y, seed: int, c: Mapping[str, Any]) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = mlp(64, c["hidden"], 10)
    opt = torch.optim.SGD(model.parameters(), lr=c["lr"], momentum=c["momentum"], weight_decay=c["weight_decay"])
    miles = [round(f * c["epochs"]) for f in (0.3, 0.6, 0.8)]
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=miles, gamma=0.2)
    return fit(model, x, y, opt, epochs=c["epochs"], batch_size=c["batch_size"], seed=seed, scheduler=sched)


@claim(
    name="el2n-pruning-digits",
    paper="Deep Learning on a Data Diet: Finding Important Examples Early in Training",
    statement="Training on the 50% of examples with the highest EL2N (5 inits, epoch 5) gives higher test "
              "accuracy than training on a random 50%.",
    task="digits, MLP 64-128-128-10, keep 50%, 40 epochs SGD step schedule",
    baseline="random 50% subset", treatment="top-50% EL2N subset (keep_hard)",
    metric="test accuracy (%)", direction="higher", min_effect=1.0, resolution=100 / 450,
    config={"hidden": 128, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 128, "epochs": 40,
            "score_epochs": 5, "score_inits": 5, "keep_fraction": 0.5},
    quick={"epochs": 15, "score_inits": 2}, quick_seeds=2, second_look=20,
    gates=(above_chance(10.0, 50.0, arms=("baseline",)),
           premise("random_cost", ">=", 1.0, "data matters: training on a random 50% costs >= 1 point of full-data "
                   "accuracy, so a better 50% has room to gain the minimum effect")),
    components=("el2n_scores", "prune_by_score"),
)
def el2n_pruning_digits(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    x, y, x_te, y_te = load("digits", seed=seed)
    if arm == "baseline":
        kept = prune_by_score(torch.zeros(len(x)), config["keep_fraction"], "random", seed=seed)
        acc = accuracy(_train_subset(x[kept], y[kept], seed, config), x_te, y_te)
        full = accuracy(_train_subset(x, y, seed, config), x_te, y_te)
        return {"value": acc, "full_accuracy": full, "random_cost": full - acc}
    score_cfg = {**config, "epochs": config["score_epochs"]}
    models = [_train_subset(x, y, 1000 * seed + m + 1, score_cfg) for m in range(config["score_inits"])]
    kept = prune_by_score(el2n_scores(models, x, y), config["keep_fraction"], "keep_hard")
    model = _train_subset(x[kept], y[kept], seed, config)
    return {"value": accuracy(model, x_te, y_te)}
