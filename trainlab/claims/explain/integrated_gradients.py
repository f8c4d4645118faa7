"""Integrated gradients against a random pixel order on the deletion curve.

Set-up fixed before any run (catalog hint): an MLP trained on digits (Adam lr 1e-3, 30 epochs,
batch 64), 100 test images, target = the predicted class's probability, zero baseline, m = 64
Gauss-Legendre steps. Deleting pixels (setting them to the baseline) 4 at a time in order of
decreasing attribution, the mean predicted-class probability over the 17 points of the curve
(0..64 pixels deleted) is the deletion AUC (`tasks.deletion_auc`); the baseline arm deletes in a random order.
Lower AUC = the ranking finds the pixels the model relies on.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from ...explain import integrated_gradients
from ..base import claim
from ..tasks import deletion_auc, train_digits_mlp
from ..base import PROVISIONAL_MIN_EFFECT  # replaced from the paper before the evidence run


def ig_deletion(use_ig: bool, seed: int, config: Mapping[str, Any]) -> float:
    model, x_te, _ = train_digits_mlp(seed, config)
    x = x_te[: config["images"]]
    with torch.no_grad():
        target = model(x).argmax(1)
    if use_ig:
        prob_model = nn.Sequential(model, nn.Softmax(dim=1))
        attr = integrated_gradients(prob_model, x, target=target, steps=config["steps"])
        order = attr.argsort(dim=1, descending=True)
    else:
        gen = torch.Generator().manual_seed(seed)
        order = torch.stack([torch.randperm(x.shape[1], generator=gen) for _ in range(len(x))])
    return deletion_auc(model, x, target, order, config["chunk"])


@claim(
    name="ig-deletion-digits",
    paper="Axiomatic Attribution for Deep Networks",
    statement="Deleting the pixels integrated gradients ranks highest lowers the predicted-class probability "
              "faster than deleting pixels in a random order (lower deletion AUC).",
    task="digits MLP, 100 test images, zero baseline, 64 Gauss-Legendre steps",
    baseline="random deletion order", treatment="integrated-gradients deletion order",
    metric="deletion AUC (mean predicted-class probability)", direction="lower", min_effect=PROVISIONAL_MIN_EFFECT,
    config={"hidden": 128, "lr": 1e-3, "epochs": 30, "images": 100, "steps": 64, "chunk": 4},
    quick={"epochs": 15}, quick_seeds=2,
    components=("integrated_gradients",),
)
def ig_deletion_digits(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return ig_deletion(arm == "treatment", seed, config)
