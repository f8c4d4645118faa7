"""Early-learning regularization against cross-entropy on digits with 40% symmetric label noise.

Set-up (fixed before any run; `tasks.NOISY_DIGITS`, shared with the other noisy-digits claims): digits
(pixels / 16, 75/25 stratified split), 40% symmetric noise on the training labels only, MLP 64-128-128-10,
SGD momentum 0.9, lr 0.02, weight decay 1e-3, batch 128, cosine annealing, no early stopping: the final
model is scored on the clean test set. The optimiser settings are ELR's CIFAR-10 settings (its official
config); epochs are 120 as there (40 in quick mode).
"""

from __future__ import annotations

from typing import Any, Mapping

from ...losses import ELRLoss
from ..base import claim
from ..tasks import NOISY_DIGITS, NOISY_DIGITS_QUICK, LossFn, cross_entropy, train_noisy_digits


def noisy_digits_accuracy(loss_name: str, seed: int, config: Mapping[str, Any]) -> float:
    """Train on noisy digits with "ce" or "elr"; return clean test accuracy (%)."""

    def make(num_train: int) -> LossFn:
        if loss_name == "ce":
            return cross_entropy(num_train)
        if loss_name == "elr":
            elr = ELRLoss(num_train, 10, beta=config["beta"], lam=config["lam"])
            return lambda logits, t, idx: elr(logits, t, idx)
        raise ValueError(f"unknown loss {loss_name!r}")

    return train_noisy_digits(make, seed, config)


@claim(
    name="elr-noisy-digits",
    paper="Early-Learning Regularization Prevents Memorization of Noisy Labels",
    statement="Early-learning regularization raises clean test accuracy over cross-entropy by >= 3 points "
              "when 40% of training labels are symmetrically flipped.",
    task="digits, 40% symmetric label noise, MLP 64-128-128-10, 120 epochs SGD, no early stopping",
    baseline="cross-entropy", treatment="ELR (beta=0.7, lambda=3)",
    metric="clean test accuracy (%)", direction="higher", min_effect=3.0,
    config={**NOISY_DIGITS, "beta": 0.7, "lam": 3.0}, quick=NOISY_DIGITS_QUICK, quick_seeds=2,
    components=("elr",),
)
def elr_noisy_digits(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return noisy_digits_accuracy("ce" if arm == "baseline" else "elr", seed, config)
