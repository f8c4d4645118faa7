"""Label-distributionally-robust losses (LDR-KL, ALDR-KL) against cross-entropy on digits: 40% symmetric and
40% pair noise.

The set-up is `tasks.NOISY_DIGITS` (digits, MLP 64-128-128-10, SGD momentum 0.9, lr 0.02, weight decay
1e-3, batch 128, cosine schedule, 120 epochs / 40 quick, final model on the clean test set), with only
the noise kind changed for the pair-noise claims. Loss hyperparameters, fixed before any run:
LDR-KL lam=10, margin=0.1, softplus normalisation and ALDR-KL lam0=10, alpha=2, margin=0.1, l1
normalisation (the official ICML2023_LDR experiment script).
"""

from __future__ import annotations

from typing import Any, Mapping

from ...losses.ldr import ALDRKLLoss, LDRKLLoss
from ..base import claim
from ..tasks import NOISY_DIGITS, NOISY_DIGITS_QUICK, NOISY_DIGITS_TASK, LossFn, cross_entropy, train_noisy_digits


LDR = {"lam": 10.0, "margin": 0.1, "lam0": 10.0, "alpha": 2.0}
PAPER_LDR = ("Label Distributionally Robust Losses for Multi-class Classification: Consistency, Robustness "
             "and Adaptivity")


def robust_digits_accuracy(loss_name: str, seed: int, config: Mapping[str, Any]) -> float:
    """Train on noisy digits with one loss ("ce", "ldr_kl", "aldr_kl"); clean test accuracy (%)."""

    def make(num_train: int) -> LossFn:
        if loss_name == "ce":
            return cross_entropy(num_train)
        if loss_name == "ldr_kl":
            ldr = LDRKLLoss(lam=config["lam"], margin=config["margin"], normalize="softplus")
            return lambda logits, t, idx: ldr(logits, t)
        if loss_name == "aldr_kl":
            aldr = ALDRKLLoss(num_train, 10, lam0=config["lam0"], alpha=config["alpha"], margin=config["margin"])
            return lambda logits, t, idx: aldr(logits, t, idx)
        raise ValueError(f"unknown loss {loss_name!r}")

    return train_noisy_digits(make, seed, config)


def _define(name: str, loss: str, kind: str, paper: str, treatment: str, extra: Mapping[str, Any],
            components: tuple[str, ...]) -> None:
    def run(arm: str, seed: int, config: Mapping[str, Any]) -> float:
        return robust_digits_accuracy("ce" if arm == "baseline" else loss, seed, config)

    run.__name__ = name.replace("-", "_")
    claim(
        name=name, paper=paper,
        statement=f"{treatment} raises clean test accuracy over cross-entropy by >= 1 point when 40% of the "
                  f"training labels are flipped ({kind} noise).",
        task=NOISY_DIGITS_TASK.format(kind), baseline="cross-entropy", treatment=treatment,
        metric="clean test accuracy (%)", direction="higher", min_effect=1.0,
        config={**NOISY_DIGITS, "noise_kind": kind, **extra}, quick=NOISY_DIGITS_QUICK, quick_seeds=2,
        components=components,
    )(run)


for _kind in ("symmetric", "pair"):
    _define(f"ldr-kl-{_kind}-noise", "ldr_kl", _kind, PAPER_LDR, "LDR-KL (lam=10, margin=0.1)", LDR, ("ldr_kl",))
    _define(f"aldr-kl-{_kind}-noise", "aldr_kl", _kind, PAPER_LDR, "ALDR-KL (lam0=10, alpha=2, margin=0.1)", LDR,
            ("aldr_kl",))
