"""M-FAC (static) OBS pruning against magnitude pruning on digits.

mfac-obs-pruning-digits: the same MLP trained on all 10 digits (Adam lr 1e-3, 30 epochs, batch 64),
then one-shot global pruning of 80% of the Linear weights (biases kept, no retraining, no OBS weight
update): magnitude (|w|) vs OBS saliency w_j^2 / (2 [F^{-1}]_jj) with M-FAC F from m=64 mini-batch
gradients (batch 16) and damping 1e-5 (the paper's pruning setting as remembered; unverified).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...datasets import load
from ...metrics.mfac import MFACInverseHVP
from ..base import claim
from ..tasks import accuracy, batches, fit_adam, mlp


MFAC = "M-FAC: Efficient Matrix-Free Approximations of Second-Order Information"


@claim(
    name="mfac-obs-pruning-digits",
    paper=MFAC,
    statement="One-shot pruning to 80% sparsity by the OBS saliency w^2 / (2 [F^-1]_jj) with the M-FAC "
              "inverse diagonal keeps at least 3 points more test accuracy than magnitude pruning.",
    task="digits 64-128-128-10 MLP, one-shot global pruning of 80% of Linear weights, no retraining",
    baseline="magnitude pruning", treatment="OBS saliency with M-FAC (m=64, damping 1e-5)",
    metric="test accuracy (%) after pruning", direction="higher", min_effect=3.0,
    config={"hidden": 128, "lr": 1e-3, "epochs": 30, "batch_size": 64, "sparsity": 0.8,
            "m": 64, "grad_batch": 16, "damping": 1e-5},
    quick={"epochs": 10}, quick_seeds=2,
    components=("mfac_inverse_hvp",),
)
def mfac_obs_pruning_digits(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    s = load("digits", seed=seed)
    torch.manual_seed(seed)
    model = mlp(64, config["hidden"], 10, depth=2)
    fit_adam(model, s.x_train, s.y_train, lr=config["lr"], epochs=config["epochs"], batch_size=config["batch_size"],
             seed=seed)
    weights = [mod.weight for mod in model if isinstance(mod, torch.nn.Linear)]
    flat = torch.cat([w.detach().reshape(-1) for w in weights])  # (d,)
    if arm == "treatment":
        gen = torch.Generator().manual_seed(seed + 7)
        rows = []
        for idx in batches(len(s.x_train), config["grad_batch"], gen)[: config["m"]]:
            g = torch.autograd.grad(F.cross_entropy(model(s.x_train[idx]), s.y_train[idx]), weights)
            rows.append(torch.cat([t.reshape(-1) for t in g]))
        ihvp = MFACInverseHVP(torch.stack(rows).double(), damping=config["damping"])
        score = flat.double().square() / (2 * ihvp.inverse_diagonal())
    else:
        score = flat.abs().double()
    n_prune = round(config["sparsity"] * flat.numel())
    keep = torch.ones_like(flat)
    keep[torch.topk(score, n_prune, largest=False).indices] = 0
    with torch.no_grad():
        start = 0
        for w in weights:
            w.mul_(keep[start:start + w.numel()].view_as(w))
            start += w.numel()
    return accuracy(model, s.x_test, s.y_test)
