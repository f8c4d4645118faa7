"""The IG attribution-robustness regulariser (IGR) against cross-entropy on digits.

Settings fixed before any run (from the catalog's claim hint and the paper; none tuned after):
igr-kendall-digits: digits softplus MLP 64-128-128-10, Adam 1e-3, 30 epochs; treatment adds
IGRegularizer(lam=1, eps=0.1, 3 attack steps, 8 IG midpoints). Evaluation: 10-step l_inf
attribution attack (eps 0.1) on 100 test images; mean Kendall tau between IG(x) and IG(x').
Catalog: >= 0.1 higher tau. lam = 1 is our a-priori choice (the paper's value was not available).

Minimum effect 0.1 (Kendall tau, continuous): the catalog's ">= 0.1 higher".
Gates: health: both models classify the digits test split (clean accuracy > 60%, chance 10%);
premise (baseline arm): the attack moves the standard model's IG ranking enough to leave room for the
gain: its mean tau <= 0.9. Measured on the baseline arm (seeds 0-2): tau 0.79, 0.78,
0.78; clean accuracy 93.6-95.6%; ~2 s per baseline run.
Seeds: 5 (cost): a treatment run takes ~35 s single-threaded (each of the 660 training steps runs a
3-step attribution attack through 8-step IG with double backprop), i.e. ~6 minutes for 10 seeds.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from scipy import stats
from torch import nn

from ...datasets import load
from ...regularizers.attribution_robustness import IGRegularizer, attribution_attack, input_attribution
from ..base import claim
from ..gates import above_chance, premise
from ..tasks import accuracy, adam_eval, ce_loss

MIN_EFFECT = 0.1


def _softplus_mlp(hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, hidden), nn.Softplus(), nn.Linear(hidden, hidden), nn.Softplus(),
                         nn.Linear(hidden, 10))


@claim(
    name="igr-kendall-digits",
    paper="Exploiting the Relationship Between Kendall's Rank Correlation and Cosine Similarity for "
          "Attribution Protection",
    statement="Training with the IG regulariser (cosine of natural vs perturbed IG) raises Kendall's tau "
              "between natural and attacked IG maps by >= 0.1 over standard training.",
    task="digits softplus MLP, 10-step l_inf attribution attack (eps 0.1) on test images",
    baseline="cross-entropy", treatment="cross-entropy + IGR (lam 1, eps 0.1)",
    metric="mean Kendall tau between IG(x) and IG(x') over test images", direction="higher", min_effect=MIN_EFFECT,
    config={"hidden": 128, "epochs": 30, "lam": 1.0, "eps": 0.1, "train_attack_steps": 3, "ig_steps": 8,
            "eval_attack_steps": 10, "images": 100},
    quick={"epochs": 3, "images": 30},
    quick_seeds=2, seeds=5,
    seeds_reason="a treatment run trains with a 3-step attribution attack through 8-step IG (double backprop) "
                 "at each of 660 steps, ~35 s single-threaded",
    gates=(above_chance(10.0, 50.0, key="test_acc"),
           premise("value", "<=", 1 - MIN_EFFECT, "the attribution attack lowers the standard model's Kendall tau "
                   "to <= 0.9, leaving room for the 0.1 gain")),
    components=("ig_regularizer",),
)
def igr_kendall_digits(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    x_tr, y_tr, x_te, y_te = load("digits", seed=seed)
    torch.manual_seed(seed)
    model = _softplus_mlp(config["hidden"])
    if arm == "treatment":
        reg = IGRegularizer(lam=config["lam"], eps=config["eps"], attack_steps=config["train_attack_steps"],
                            ig_steps=config["ig_steps"])
        loss_fn = lambda logits, t, idx: reg(model, x_tr[idx], t)  # noqa: E731 - recomputes the logits
    else:
        loss_fn = ce_loss
    adam_eval(model, x_tr, y_tr, config["epochs"], seed, loss_fn)
    x, y = x_te[: config["images"]], y_te[: config["images"]]
    xp = attribution_attack(model, x, y, config["eps"], config["eval_attack_steps"], ig_steps=config["ig_steps"])
    a = input_attribution(model, x, y, steps=config["ig_steps"], create_graph=False)
    b = input_attribution(model, xp, y, steps=config["ig_steps"], create_graph=False)
    taus = [stats.kendalltau(a[i].numpy(), b[i].numpy()).statistic for i in range(len(x))]
    return {"value": float(np.nanmean(taus)), "test_acc": accuracy(model, x_te, y_te)}
