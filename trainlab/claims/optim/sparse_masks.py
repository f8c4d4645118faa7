"""Claim of `trainlab.optim.sparse_masks`: FISH sparse fine-tuning on digits.

fish-digits-transfer (set-up fixed before any run; catalog hint, paper's N=1024 Fisher samples and
"same optimiser as full fine-tuning"): a 64-128-128-10 ReLU MLP is pretrained on digits 0-4 (Adam
lr 1e-3, 30 epochs, batch 64), then fine-tuned on digits 5-9 (Adam lr 1e-3, weight decay 0, 30 epochs,
batch 64) updating only k = 2% of all parameters, chosen by the FISH mask (empirical Fisher of the
fine-tuning data, up to N=1024 examples) or uniformly at random (same k). Metric: test accuracy (%) on
digits 5-9 (224 test images: resolution 0.45 points); min effect 5 points (the catalog's).
CHANGED for the evidence rule, a deviation from the official code found while adding gates: the official
FISH code (`create_mask_gradient` / `create_mask_random`: "don't count classifier layer, they should be all
trainable") always trains the classifier head in both arms and picks the sparse mask among the other
parameters. This claim masked the head too, so a random 2% mask left the head rows of classes 5-9 (never
trained in pretraining) almost untouched and the baseline scored 0% (quick and full runs). Now the head
(last layer, 1,290 parameters) is trainable in both arms and k = 2% of the other 24,832 parameters (497)
are chosen by FISH or at random. (The official budget, 2% of all parameters including the head, is
impossible here: this head alone is 4.9% of the network, while in the paper's BERT it is ~1e-5.)
Gates (declared before any run): premise, sparse fine-tuning leaves room: full fine-tuning (every
parameter) beats the random-mask baseline by at least the 5-point min effect (the baseline arm also runs full
fine-tuning from the same pretrained model); health, each arm exceeds 30% test accuracy (chance 20%).
The catalog's second condition (FISH within 5 points of full fine-tuning) is reported (the baseline's
"full_finetune_accuracy"), outside the verdict.
Baseline measurement (seeds 0-2): random mask + head 70.1 / 75.0 / 69.6%, full fine-tuning 97.8 / 99.1 / 95.5%
(room 24-28 points); 2-4 CPU-s per baseline run (it also runs full fine-tuning), ~1.2 per treatment run.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ...datasets import load
from ...optim.sparse_masks import fisher_mask, masked, random_mask
from ..base import claim
from ..gates import above_chance, premise
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
    head = list(model[-1].parameters())  # the classifier layer: always trainable, as in the official code
    body = [p for p in model.parameters() if all(p is not h for h in head)]
    k = max(1, round(config["keep_fraction"] * sum(p.numel() for p in body)))
    if mode == "full":
        opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    else:
        for p in head:  # mask only the body: the masks' helpers skip parameters without requires_grad
            p.requires_grad_(False)
        if mode == "fish":
            masks = fisher_mask(model, [(x, y)], k, num_samples=config["fisher_samples"])
        else:
            masks = random_mask(model, k, seed=seed)
        for p in head:
            p.requires_grad_(True)
        names = {id(p): n for n, p in model.named_parameters()}
        masks.update({names[id(p)]: torch.ones_like(p, dtype=torch.bool) for p in head})
        opt = masked(torch.optim.Adam(model.parameters(), lr=config["lr"]), masks, model)
    _train(model, x, y, config, seed + 1000, opt)
    return accuracy(model, s.x_test[~lo_te], s.y_test[~lo_te])


def full_finetune_accuracy(seed: int, config: Mapping[str, Any]) -> float:
    """Test accuracy on digits 5-9 when every parameter is fine-tuned (the catalog's reference)."""
    return _transfer(seed, config, "full")


@claim(
    name="fish-digits-transfer",
    paper=FISH,
    statement="Fine-tuning only the 2% of (non-head) parameters with the largest empirical Fisher information beats "
              "a random mask of the same size by at least 5 accuracy points.",
    task="MLP pretrained on digits 0-4, fine-tuned on digits 5-9: the head + 2% of the other parameters trainable",
    baseline="random mask (same k) + head + Adam", treatment="FISH mask (N=1024) + head + Adam",
    metric="test accuracy (%) on digits 5-9", direction="higher", min_effect=5.0, resolution=100 / 224,
    config={"hidden": 128, "lr": 1e-3, "epochs": 30, "batch_size": 64, "keep_fraction": 0.02,
            "fisher_samples": 1024},
    quick={"epochs": 10}, quick_seeds=2,
    gates=(premise("full_minus_random", ">=", 5.0,
                   "full fine-tuning beats the random-mask baseline by at least the 5-point min effect"),
           above_chance(20.0, 10.0)),
    components=("fisher_mask", "random_mask", "gradient_mask"),
)
def fish_digits_transfer(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    if arm == "treatment":
        return {"value": _transfer(seed, config, "fish")}
    acc = _transfer(seed, config, "random")
    full = full_finetune_accuracy(seed, config)
    return {"value": acc, "full_finetune_accuracy": full, "full_minus_random": full - acc}
