"""Compression-identified exemplars (CIEs): dense models' accuracy on CIEs against the other examples.

cie-digits (catalog hint; the paper where the hint is silent), fixed before any run: per seed, 5 dense MLPs
64-128-128-10 (Adam lr 1e-3, 30 epochs, batch 64) and 5 copies pruned to 90% global magnitude sparsity, then
fine-tuned 10 epochs (Adam lr 1e-3). A test example is a CIE when the modal prediction of the pruned
population differs from the dense population's. Both arms read the same populations (memoised): baseline =
the dense models' mean test accuracy on the non-CIE examples, treatment = on the CIEs.

Gates: premise (baseline run only) -- the paper's setting is compression with a small top-line cost: the
pruned population's mean test accuracy is at most 3 points below the dense one's (catalog), and there are
>= 5 CIEs on average (1% of the 450 test images; fewer and the CIE accuracy means nothing). Health -- the
dense models learned: mean dense test accuracy > 60% (chance 10%).
Minimum effect: 20 points lower on CIEs (the catalog's number for the paper's "CIEs are much harder").
The metric averages 5 models over a varying subset, so it has no fixed resolution.
Cost (full mode, one thread): ~9.6 s per run (both arms train the populations unless one process runs both).
Baseline premise (full mode, baseline arm only, seeds 0-2): pruning cost 1.3 / 1.1 / 1.4 points, CIEs 7 / 9 / 12,
dense accuracy 96-97%.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ...datasets import load
from ...metrics.cie import compression_identified_exemplars, magnitude_prune
from ..base import claim
from ..gates import above_chance, premise
from ..tasks import ce_loss, mlp, shared_per_config, train_epochs


@shared_per_config
def cie_populations(seed: int, c: Mapping[str, Any]):
    """Test-set predictions of the dense (P, N) and pruned (P, N) populations and the labels (N,)."""
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
    gates=(above_chance(10.0, 50.0, key="dense_accuracy"),
           premise("prune_cost", "<=", 3.0, "pruning to 90% costs the population at most 3 points of top-1 "
                   "accuracy (the paper's setting: a small top-line cost hiding a concentrated one)"),
           premise("n_cie", ">=", 5.0, "there are >= 5 CIEs (1% of the test set) for an accuracy on them to mean anything")),
    components=("compression_identified_exemplars",),
)
def cie_digits(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    dense, pruned, y = cie_populations(seed, config)
    mask = compression_identified_exemplars(dense, pruned)
    subset = mask if arm == "treatment" else ~mask
    if not bool(subset.any()):  # no CIE at all: the n_cie premise gate fails; report the overall accuracy
        subset = torch.ones_like(mask)
    dense_acc = 100.0 * (dense == y).float().mean().item()
    return {"value": 100.0 * (dense[:, subset] == y[subset]).float().mean().item(), "n_cie": float(mask.sum()),
            "dense_accuracy": dense_acc, "prune_cost": dense_acc - 100.0 * (pruned == y).float().mean().item()}
