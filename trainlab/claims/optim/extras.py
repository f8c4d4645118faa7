"""Claims of `trainlab.optim.extras`: DoG's robustness to its initial step, DoG untuned against tuned SGD on
convex problems, and ⊥AdamW on modular addition.

dog-robust-initial-step (fixed before any run): digits (pixels / 16), ReLU MLP 64-64-64-10, minibatch 64,
20 epochs (8 in quick mode). Treatment: DoG (lr = c = 1, the official default; no iterate averaging)
at r_eps = reps_rel in {1e-6, 1e-5, 1e-4, 1e-3, 1e-2} (4 orders of magnitude). Baseline: plain SGD
at lr in {1e-4, 1e-3, 1e-2, 1e-1} (3 orders: a narrower range than DoG's, so the comparison favours the
baseline). Metric per seed: spread (max - min) of final test accuracy over the grid, in points;
the claim is that DoG's spread is at least 10 points smaller than SGD's.

dog-untuned-vs-tuned-sgd-convex: untuned DoG (defaults) against SGD tuned over a 7-point lr grid on the
catalog's convex problems (logistic regression on breast_cancer, least squares on diabetes); the set-up and
the relative-loss metric are those of the U-DoG convex claims (`claims/optim/udog.py`, recipe in
`tasks.py`): baseline = 1.05 (1.05 x tuned SGD, in relative units: constant), treatment = DoG's relative
loss on the problem worse for the claim; lower, min_effect 0.

orthograd-modular-addition (catalog claim hint, shortened): (a + b) mod 59, 40% of all pairs for
training, inputs = concatenated one-hot operands, ReLU MLP 118-128-128-59, float32, full batch,
AdamW lr 1e-3, betas (0.9, 0.999), weight decay 0, 5000 steps (1500 quick). Baseline: AdamW;
treatment: ⊥AdamW (`ortho_adamw`, same hyperparameters). Metric: final test accuracy (%); the claim
is a gain of at least 30 points.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...datasets import load
from ...optim.extras import dog, ortho_adamw
from ..base import claim
from ..tasks import (
    CONVEX_COMMON,
    CONVEX_RELATIVE,
    DOG_PAPER,
    accuracy,
    accuracy_spread,
    mlp,
    sgd_lr_spread,
    train_full_batch,
    vs_tuned_sgd,
)


GROKKING_EDGE = "Grokking at the Edge of Numerical Stability"


@claim(
    name="dog-robust-initial-step",
    paper=DOG_PAPER,
    statement="DoG's final accuracy barely depends on its initial step r_eps over 4 orders of magnitude, "
              "while SGD's depends strongly on its learning rate over 3.",
    task="digits, MLP 64-64-64-10, minibatch 64, 20 epochs",
    baseline="SGD, spread of test accuracy over lr in {1e-4, 1e-3, 1e-2, 1e-1}",
    treatment="DoG (c = 1), spread of test accuracy over r_eps in {1e-6, ..., 1e-2}",
    metric="max - min final test accuracy over the grid (points)", direction="lower", min_effect=10.0,
    config={"hidden": 64, "batch_size": 64, "epochs": 20, "sgd_lrs": [1e-4, 1e-3, 1e-2, 1e-1],
            "dog_reps_rel": [1e-6, 1e-5, 1e-4, 1e-3, 1e-2]},
    quick={"epochs": 8}, quick_seeds=2,
    components=("dog", "scale_by_dog"),
)
def dog_robust_initial_step(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    if arm != "treatment":
        return sgd_lr_spread(seed, config)
    return accuracy_spread([lambda ps, r=r: dog(ps, reps_rel=r) for r in config["dog_reps_rel"]], seed, config)


@claim(
    name="dog-untuned-vs-tuned-sgd-convex",
    statement="Untuned DoG reaches a final loss within 5% of SGD tuned over a 7-point lr grid on "
              "logistic regression (breast_cancer) and least squares (diabetes).",
    baseline="1.05 x tuned SGD (best of lr in {1e-3, ..., 1e3}), i.e. 1.05 in relative units",
    treatment="DoG, defaults (reps_rel 1e-6, c = 1), last iterate", metric=CONVEX_RELATIVE,
    components=("dog",), **CONVEX_COMMON,
)
def dog_untuned_vs_tuned_sgd_convex(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return vs_tuned_sgd("dog", arm, seed, config)


@claim(
    name="orthograd-modular-addition",
    paper=GROKKING_EDGE,
    statement="Projecting out the gradient component along the weights (⊥AdamW) lets an MLP generalise on "
              "modular addition without weight decay, beating AdamW's test accuracy by at least 30 points.",
    task="(a+b) mod 59, 40% train, one-hot concat MLP width 128, full batch, no weight decay",
    baseline="AdamW (lr 1e-3, wd 0)", treatment="⊥AdamW (ortho_adamw, lr 1e-3, wd 0)",
    metric="final test accuracy (%)", direction="higher", min_effect=30.0,
    config={"p": 59, "train_fraction": 0.4, "hidden": 128, "lr": 1e-3, "betas": [0.9, 0.999],
            "weight_decay": 0.0, "steps": 5000},
    quick={"steps": 1500}, quick_seeds=2,
    components=("orthograd", "ortho_adamw"),
)
def orthograd_modular_addition(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    p = config["p"]
    x_tr, y_tr, x_te, y_te = load("modular_addition", seed=seed, p=p, train_fraction=config["train_fraction"])
    x_tr, x_te = F.one_hot(x_tr, p).flatten(1).float(), F.one_hot(x_te, p).flatten(1).float()  # (N, 2p)
    torch.manual_seed(seed)
    model = mlp(2 * p, config["hidden"], p)
    kw = dict(lr=config["lr"], betas=tuple(config["betas"]), weight_decay=config["weight_decay"])
    opt = ortho_adamw(model.parameters(), **kw) if arm == "treatment" else torch.optim.AdamW(model.parameters(), **kw)
    train_full_batch(model, x_tr, y_tr, F.cross_entropy, opt, config["steps"])
    return accuracy(model, x_te, y_te)
