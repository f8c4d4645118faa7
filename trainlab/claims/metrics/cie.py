"""Compression-identified exemplars (CIEs): dense models' accuracy on CIEs against the other examples.

Settings fixed before any run (catalog hints; the papers where the hints are silent):
cie-digits: 5 dense MLPs 64-128-128-10 (Adam lr 1e-3, 30 epochs, batch 64) and 5 copies pruned to
90% global magnitude sparsity then fine-tuned 10 epochs (Adam lr 1e-3); metric = dense models'
mean test accuracy on CIE vs non-CIE examples (catalog: >= 20 points lower on CIE).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ...datasets import load
from ...metrics.cie import compression_identified_exemplars, magnitude_prune
from ..base import claim
from ..tasks import ce_loss, mlp, train_epochs


_CACHE: dict[tuple, Any] = {}


def cie_populations(seed: int, c: Mapping[str, Any]):
    split = load("digits", seed=seed)
    dense, pruned = [], []
    for m in range(c["population"]):
        torch.manual_seed(100 * seed + m)
        gen = torch.Generator().manual_seed(100 * seed + m)
        model = mlp(64, c["hidden"], 10, depth=2)
        opt = torch.optim.Adam(model.parameters(), lr=c["lr"])
        train_epochs(model, split.x_train, split.y_train, ce_loss, opt, epochs=c["epochs"],
                     batch_size=c["batch_size"], generator=gen)
        model.eval()
        with torch.no_grad():
            dense.append(model(split.x_test).argmax(1))
        magnitude_prune(model, c["sparsity"])
        opt = torch.optim.Adam(model.parameters(), lr=c["lr"])
        train_epochs(model, split.x_train, split.y_train, ce_loss, opt, epochs=c["finetune_epochs"],
                     batch_size=c["batch_size"], generator=gen)
        model.eval()
        with torch.no_grad():
            pruned.append(model(split.x_test).argmax(1))
    return torch.stack(dense), torch.stack(pruned), split.y_test


@claim(
    name="cie-digits",
    paper="Characterising Bias in Compressed Models",
    statement="Compression-identified exemplars are much harder: dense models' accuracy on CIEs is "
              ">= 20 points lower than on the other examples.",
    task="digits MLP 64-128-128-10, 5 dense + 5 magnitude-pruned (90%, fine-tuned) models",
    baseline="dense accuracy on non-CIE test examples", treatment="dense accuracy on CIE test examples",
    metric="mean dense test accuracy (%)", direction="lower", min_effect=20.0,
    config={"population": 5, "hidden": 128, "lr": 1e-3, "epochs": 30, "finetune_epochs": 10,
            "batch_size": 64, "sparsity": 0.9},
    quick={"epochs": 10, "finetune_epochs": 4}, quick_seeds=2,
    components=("compression_identified_exemplars",),
)
def cie_digits(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    key = ("cie", seed, tuple(sorted(config.items())))
    if key not in _CACHE:
        _CACHE[key] = cie_populations(seed, config)
    dense, pruned, y = _CACHE[key]
    mask = compression_identified_exemplars(dense, pruned)
    subset = mask if arm == "treatment" else ~mask
    if not bool(subset.any()):  # no CIE at all: no effect measurable, report the overall accuracy
        subset = torch.ones_like(mask)
    return 100.0 * (dense[:, subset] == y[subset]).float().mean().item()
