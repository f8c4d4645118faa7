"""M-FAC (static) OBS pruning against magnitude pruning on digits.

mfac-obs-pruning-digits (catalog claim (b)), fixed before any run: MLP 64-128-128-10 trained on all 10 digits
(Adam lr 1e-3, 30 epochs, batch 64; the same trained model in both arms, memoised), then one-shot global pruning
of 80% of the Linear weights (biases kept, no retraining, no OBS weight update): magnitude |w| (baseline) vs
OBS saliency w_j^2 / (2 [F^{-1}]_jj) with the M-FAC empirical Fisher from m = 64 mini-batch gradients (batch 16)
and damping 1e-5 (the paper's pruning setting as remembered; unverified).

Minimum effect: 3 points of test accuracy (the catalog's number); resolution one of 450 test images = 0.22.
Gates: premise (baseline run only) -- one-shot magnitude pruning to 80% costs >= 4 points of the dense model's
test accuracy (the minimum effect plus one point), so a better saliency has room to keep 3 points more; health --
the dense model learned (test accuracy > 60%, chance 10%).
Cost (full mode, one thread): ~1.4 s per run; a second look at 20 seeds is declared.
Baseline premise (full mode, baseline arm only, seeds 0-2): magnitude-pruning cost 10.7 / 4.0 / 2.7 points (dense
96-97%).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...datasets import load
from ...metrics.mfac import MFACInverseHVP
from ..base import claim
from ..gates import above_chance, premise
from ..tasks import accuracy, batches, fit_adam, mlp, shared_per_config


MFAC = "M-FAC: Efficient Matrix-Free Approximations of Second-Order Information"


@shared_per_config
def _trained_state(seed: int, config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The dense model's trained weights (shared by both arms; read only)."""
    s = load("digits", seed=seed)
    torch.manual_seed(seed)
    model = mlp(64, config["hidden"], 10, depth=2)
    fit_adam(model, s.x_train, s.y_train, lr=config["lr"], epochs=config["epochs"], batch_size=config["batch_size"],
             seed=seed)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@claim(
    name="mfac-obs-pruning-digits",
    paper=MFAC,
    statement="One-shot pruning to 80% sparsity by the OBS saliency w^2 / (2 [F^-1]_jj) with the M-FAC "
              "inverse diagonal keeps at least 3 points more test accuracy than magnitude pruning.",
    task="digits 64-128-128-10 MLP, one-shot global pruning of 80% of Linear weights, no retraining",
    baseline="magnitude pruning", treatment="OBS saliency with M-FAC (m=64, damping 1e-5)",
    metric="test accuracy (%) after pruning", direction="higher", min_effect=3.0, resolution=100 / 450,
    config={"hidden": 128, "lr": 1e-3, "epochs": 30, "batch_size": 64, "sparsity": 0.8,
            "m": 64, "grad_batch": 16, "damping": 1e-5},
    quick={"epochs": 10}, quick_seeds=2, second_look=20,
    gates=(above_chance(10.0, 50.0, key="dense_accuracy"),
           premise("prune_cost", ">=", 4.0, "one-shot magnitude pruning to 80% costs >= 4 points of the dense "
                   "accuracy (the minimum effect + 1), so a better saliency has room to keep 3 points more")),
    components=("mfac_inverse_hvp",),
)
def mfac_obs_pruning_digits(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    s = load("digits", seed=seed)
    model = mlp(64, config["hidden"], 10, depth=2)
    model.load_state_dict(_trained_state(seed, config))
    dense_acc = accuracy(model, s.x_test, s.y_test)
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
    acc = accuracy(model, s.x_test, s.y_test)
    return {"value": acc, "dense_accuracy": dense_acc, "prune_cost": dense_acc - acc}
