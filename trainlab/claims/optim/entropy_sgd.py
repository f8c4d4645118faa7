"""Claim of `trainlab.optim.entropy_sgd` (catalog row 205).

entropy-sgd-digits: digits (pixels / 16), ReLU MLP 64-64-64-10, minibatch 64, equal number of gradient
evaluations (20 epochs of SGD = 20 * 22 = 440 minibatch gradients; Entropy-SGD: L = 20 Langevin steps per
outer step, so 22 outer steps, each evaluation on the next minibatch of the same stream).
SGD: lr 0.1, momentum 0.9 (Nesterov), the official code's SGD (its `-L 0` default).
CHANGED for the evidence rule (a bug in this claim's setting, found after the last full run collapsed to
chance with its training loss stuck at ln 10): Entropy-SGD ran with lr 1 (the Lua code's mnistfc schedule,
used for the paper's runs) on `entropy_sgd`, whose outer step is the official PyTorch code's,
x <- x - lr * Nesterov-momentum(x - mu). The Lua code's outer step has no momentum (it kills the momentum'd
gradient and steps x <- x - lr (x - mu)), so there lr 1 moves x onto mu; with momentum 0.9 the same lr moves
it ~10-19x as far, overshooting every outer step. The hyperparameters now follow the official PyTorch code
(python/train.py defaults: lr 0.1, momentum 0.9 Nesterov in both loops; Langevin lr 0.1, beta 0.75 hard-coded
in python/optim.py) and its README's MNIST command (`-L 20 --gamma 1e-4 --scoping 1e-3 --noise 1e-4`):
L = 20, g0 = 1e-4, g1 = 1e-3, eps = 1e-4. lr 0.1 with momentum 0.9 gives the steady-state outer step of the Lua
code's lr 1 without momentum. (Before: lr 1, g0 0.03, the latter from the README's CIFAR command.) The
treatment arm was not run in full mode to check this.
Metric and minimum effect: the catalog's claim is non-inferiority, "Entropy-SGD >= SGD - 1 point". Baseline:
SGD accuracy - 1.5 points (the 1-point margin plus the 0.5-point minimum effect); treatment: Entropy-SGD
accuracy. So the rule says reproduced iff Entropy-SGD's mean gap to SGD is at least -1 point (the catalog's
margin) and significantly above -1.5, and not reproduced iff the gap is significantly below -1. Min effect
0.5 points: about two of digits' 450 test images (resolution 0.22), the smallest accuracy gap worth
reporting. Gates: health, each arm's raw test accuracy exceeds chance (10%) by more than 10 points, and each
arm's training loss (full training set) falls below 0.9x its initial value. The Hessian-eigenvalue half of
the catalog claim is not measured here. Cheap (~0.3-2 CPU-s per run): a second look at 20 seeds is declared.
Baseline measurement (seeds 0-2): SGD test accuracy 98.0 / 96.7 / 97.1%, training loss 2.30 -> 0.004-0.009.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...datasets import load
from ...optim.entropy_sgd import PAPER as ESGD_PAPER
from ...optim.entropy_sgd import entropy_sgd
from ..base import claim
from ..gates import above_chance, loss_decreased
from ..tasks import accuracy, batches, mlp


@claim(
    name="entropy-sgd-digits", paper=ESGD_PAPER,
    statement="At an equal number of minibatch gradients, Entropy-SGD's test accuracy is >= SGD's - 1 point.",
    task="digits (pixels / 16), MLP 64-64-64-10, minibatch 64, 440 gradient evaluations per arm",
    baseline="SGD (lr 0.1, Nesterov 0.9) test accuracy minus 1.5 points (1-point margin + 0.5 min effect)",
    treatment="Entropy-SGD (L 20, lr 0.1, Nesterov 0.9, gamma 1e-4 (1 + 1e-3)^t, eps 1e-4)",
    metric="test accuracy (points)", direction="higher", min_effect=0.5, resolution=100 / 450,
    config={"epochs": 20, "batch_size": 64, "hidden": 64, "sgd_lr": 0.1, "L": 20, "esgd_lr": 0.1,
            "momentum": 0.9, "g0": 1e-4, "g1": 1e-3, "eps": 1e-4, "margin": 1.5},
    quick={"epochs": 10}, quick_seeds=2, second_look=20,
    gates=(above_chance(10.0, 10.0, key="accuracy"), loss_decreased()),
    components=("entropy_sgd",),
)
def entropy_sgd_digits(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    s = load("digits", seed=seed)
    x_tr, y_tr, x_te, y_te = s.x_train, s.y_train, s.x_test, s.y_test
    torch.manual_seed(seed)
    model = mlp(64, config["hidden"], 10)
    with torch.no_grad():
        first = F.cross_entropy(model(x_tr), y_tr).item()
    gen = torch.Generator().manual_seed(seed)
    stream = [idx for _ in range(config["epochs"]) for idx in batches(len(x_tr), config["batch_size"], gen)]
    model.train()
    if arm == "treatment":
        opt = entropy_sgd(model.parameters(), lr=config["esgd_lr"], momentum=config["momentum"], L=config["L"],
                          g0=config["g0"], g1=config["g1"], eps=config["eps"], seed=seed)
        pos = [0]

        def closure() -> torch.Tensor:  # each evaluation takes the next minibatch of the shared stream
            idx = stream[pos[0] % len(stream)]
            pos[0] += 1
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            return loss

        for _ in range(len(stream) // config["L"]):
            opt.step(closure)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=config["sgd_lr"], momentum=config["momentum"], nesterov=True)
        for idx in stream:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
    acc = accuracy(model, x_te, y_te)
    acc = acc if acc == acc else 0.0
    with torch.no_grad():
        last = F.cross_entropy(model(x_tr), y_tr).item()
    value = acc if arm == "treatment" else acc - config["margin"]
    return {"value": value, "accuracy": acc, "loss_first": first, "loss_last": last}
