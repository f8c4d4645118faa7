"""Claim of `trainlab.optim.sparse_masks`: FISH sparse fine-tuning on digits.

fish-digits-transfer (set-up fixed before any run; catalog hint, paper's N=1024 Fisher samples and
"same optimiser as full fine-tuning"): a 64-128-128-10 ReLU MLP is pretrained on digits 0-4 (Adam
lr 1e-3, 30 epochs, batch 64), then fine-tuned on digits 5-9 (Adam lr 1e-3, weight decay 0, 30 epochs,
batch 64) updating only k = 2% of all parameters, chosen by the FISH mask (empirical Fisher of the
fine-tuning data, up to N=1024 examples) or uniformly at random (same k). Metric: test accuracy (%) on
digits 5-9. The catalog's second condition (FISH within 5 points of full fine-tuning) is reported by
`full_finetune_accuracy`, outside the verdict.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ...datasets import load
from ...optim.sparse_masks import fisher_mask, masked, random_mask
from ..base import claim
from ..tasks import accuracy, fit, mlp


FISH = "Training Neural Networks with Fixed Sparse Masks"


def _train(model, x, y, config, seed, opt=None):
    opt = opt or torch.optim.Adam(model.parameters(), lr=config["lr"])
    fit(model, x, y, opt, epochs=config["epochs"], batch_size=config["batch_size"], seed=seed)


def _transfer(seed: int, config: Mapping[str, Any], mode: str) -> float:
    s = load("digits", seed=seed)
    lo_tr, lo_te = s.y_train < 5, s.y_test < 5
    torch.manual_seed(seed)
    model = mlp(64, config["hidden"], 10, depth=2)
    _train(model, s.x_train[lo_tr], s.y_train[lo_tr], config, seed)
    x, y = s.x_train[~lo_tr], s.y_train[~lo_tr]
    k = max(1, round(config["keep_fraction"] * sum(p.numel() for p in model.parameters())))
    if mode == "full":
        opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    else:
        if mode == "fish":
            masks = fisher_mask(model, [(x, y)], k, num_samples=config["fisher_samples"])
        else:
            masks = random_mask(model, k, seed=seed)
        opt = masked(torch.optim.Adam(model.parameters(), lr=config["lr"]), masks, model)
    _train(model, x, y, config, seed + 1000, opt)
    return accuracy(model, s.x_test[~lo_te], s.y_test[~lo_te])


def full_finetune_accuracy(seed: int, config: Mapping[str, Any]) -> float:
    """Test accuracy on digits 5-9 when every parameter is fine-tuned (the catalog's reference)."""
    return _transfer(seed, config, "full")


@claim(
    name="fish-digits-transfer",
    paper=FISH,
    statement="Fine-tuning only the 2% of parameters with the largest empirical Fisher information beats "
              "a random mask of the same size by at least 5 accuracy points.",
    task="MLP pretrained on digits 0-4, fine-tuned on digits 5-9 with 2% of parameters trainable",
    baseline="random mask (same k) + Adam", treatment="FISH mask (N=1024) + Adam",
    metric="test accuracy (%) on digits 5-9", direction="higher", min_effect=5.0,
    config={"hidden": 128, "lr": 1e-3, "epochs": 30, "batch_size": 64, "keep_fraction": 0.02,
            "fisher_samples": 1024},
    quick={"epochs": 10}, quick_seeds=2,
    components=("fisher_mask", "random_mask", "gradient_mask"),
)
def fish_digits_transfer(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return _transfer(seed, config, "fish" if arm == "treatment" else "random")
