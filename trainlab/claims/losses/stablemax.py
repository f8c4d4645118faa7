"""StableMax cross-entropy against softmax cross-entropy on modular addition without weight decay.

Set-up fixed before any run, from the official experiments (one-hot concatenated operands, a
bias-free ReLU MLP with hidden sizes (200, 200), full batch, AdamW with weight decay 0, lr 0.01,
betas (0.9, 0.99), eps 1e-25, float32 model, StableMax loss computed in float64) shrunk to this
machine as the catalog suggests: p = 59 instead of 113, 40% train split, 5000 full-batch steps
(1500 in quick mode) instead of 80000. Only the loss differs between the arms.
Metric: final test accuracy (%); the claim is a >= 30-point gain.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ...datasets import load
from ...losses import StableMaxCrossEntropy
from ..base import claim
from ..tasks import train_full_batch


def one_hot_mlp(p: int, hidden: tuple[int, ...]) -> nn.Sequential:
    sizes = [2 * p, *hidden, p]
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=False))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def modular_test_accuracy(use_stablemax: bool, seed: int, config: Mapping[str, Any]) -> float:
    p = config["p"]
    x_tr, y_tr, x_te, y_te = load("modular_addition", seed=seed, p=p, train_fraction=config["train_fraction"])
    encode = lambda x: F.one_hot(x, p).flatten(1).float()  # noqa: E731  (N, 2) -> (N, 2p)
    x_tr, x_te = encode(x_tr), encode(x_te)
    torch.manual_seed(seed)
    model = one_hot_mlp(p, tuple(config["hidden"]))
    opt = torch.optim.AdamW(model.parameters(), lr=config["lr"], betas=tuple(config["betas"]), eps=config["eps"],
                            weight_decay=0.0)
    loss_fn = StableMaxCrossEntropy(dtype="float64") if use_stablemax else nn.CrossEntropyLoss()
    train_full_batch(model, x_tr, y_tr, loss_fn, opt, config["steps"])
    with torch.no_grad():
        return 100.0 * (model(x_te).argmax(1) == y_te).float().mean().item()


@claim(
    name="stablemax-modular-addition",
    paper="Grokking at the Edge of Numerical Stability",
    statement="Without weight decay, StableMax cross-entropy generalises on modular addition where softmax "
              "cross-entropy stalls: >= 30 points higher test accuracy.",
    task="(a+b) mod 59, 40% train split, one-hot MLP (200, 200) without biases, full batch, AdamW wd=0",
    baseline="softmax cross-entropy (float32)", treatment="StableMax cross-entropy (float64)",
    metric="test accuracy (%)", direction="higher", min_effect=30.0,
    config={"p": 59, "train_fraction": 0.4, "hidden": [200, 200], "lr": 0.01, "betas": [0.9, 0.99],
            "eps": 1e-25, "steps": 5000},
    quick={"steps": 1500}, quick_seeds=2,
    components=("stablemax_ce", "softmax_collapse_fraction"),
)
def stablemax_modular_addition(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return modular_test_accuracy(arm == "treatment", seed, config)
