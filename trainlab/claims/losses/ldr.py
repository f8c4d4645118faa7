"""Label-distributionally-robust losses (LDR-KL, ALDR-KL) against cross-entropy on digits: 40% symmetric and
40% pair noise.

Set-up (fixed before any run): `tasks.NOISY_DIGITS` (digits, 40% noise on the training labels only, MLP
64-128-128-10, SGD momentum 0.9, lr 0.1, weight decay 1e-3, batch 128, cosine schedule over 200 epochs / 20
quick, no early stopping, final model on the clean test set), with only the noise kind changed for the
pair-noise claims (y -> y + 1 mod 10 with probability 0.4). Loss hyperparameters: LDR-KL lam=10,
margin=0.1, softplus normalisation and ALDR-KL lam0=10, alpha=2, margin=0.1, l1 normalisation (the official
ICML2023_LDR experiment script).

Why this setting can show the effect: robust losses gain where cross-entropy memorises the wrong labels. The
earlier set-up (lr 0.02, 120 epochs) never converged on them (CE fitted 1-3% of the flipped labels and lost
1.6-1.8 points against clean labels); with lr 0.1 and 200 epochs CE converges on them (baseline arm, seeds
0-5): symmetric noise, it fits 98.1-99.4% of the flipped labels and loses 24.7-34.0 points; pair noise, it fits
95.7-98.0% and loses 33.6-46.0 points (see `tasks.NOISY_DIGITS`).

Gates: both arms above chance (10%) by 10 points; premise on the baseline arm: the noise costs CE >= 1 + 5
points of clean accuracy (clean-label CE run with the same seed, memoised across the noisy-digits claims)
and CE fits >= 90% of the flipped training labels.

Minimum effect 1 point (4.5 of 450 test images, > 2x the resolution): the paper's gains over CE vary widely
with the data set and no single number transfers; 1 point is the smallest gain a practitioner would switch
losses for. (The catalog's ALDR-KL ">= CE + 3" is stricter; the claims keep their stated 1 point.)
"""

from __future__ import annotations

from typing import Any, Mapping

from ...losses.ldr import ALDRKLLoss, LDRKLLoss
from ..base import claim
from ..tasks import (
    DIGITS_RESOLUTION,
    NOISY_DIGITS,
    NOISY_DIGITS_QUICK,
    NOISY_DIGITS_TASK,
    LossFn,
    noisy_digits_baseline,
    noisy_digits_gates,
    train_noisy_digits,
)


LDR = {"lam": 10.0, "margin": 0.1, "lam0": 10.0, "alpha": 2.0}
PAPER_LDR = ("Label Distributionally Robust Losses for Multi-class Classification: Consistency, Robustness "
             "and Adaptivity")
MIN_EFFECT = 1.0


def robust_loss(loss_name: str, config: Mapping[str, Any]):
    """`make(num_train) -> loss(logits, target, index)` for "ldr_kl" or "aldr_kl"."""

    def make(num_train: int) -> LossFn:
        if loss_name == "ldr_kl":
            ldr = LDRKLLoss(lam=config["lam"], margin=config["margin"], normalize="softplus")
            return lambda logits, t, idx: ldr(logits, t)
        if loss_name == "aldr_kl":
            aldr = ALDRKLLoss(num_train, 10, lam0=config["lam0"], alpha=config["alpha"], margin=config["margin"])
            return lambda logits, t, idx: aldr(logits, t, idx)
        raise ValueError(f"unknown loss {loss_name!r}")

    return make


def _define(name: str, loss: str, kind: str, paper: str, treatment: str, extra: Mapping[str, Any],
            components: tuple[str, ...]) -> None:
    def run(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
        if arm == "baseline":
            return noisy_digits_baseline(seed, config)
        return train_noisy_digits(robust_loss(loss, config), seed, config)

    run.__name__ = name.replace("-", "_")
    claim(
        name=name, paper=paper,
        statement=f"{treatment} raises clean test accuracy over cross-entropy by >= 1 point when 40% of the "
                  f"training labels are flipped ({kind} noise).",
        task=NOISY_DIGITS_TASK.format(kind), baseline="cross-entropy", treatment=treatment,
        metric="clean test accuracy (%)", direction="higher", min_effect=MIN_EFFECT, resolution=DIGITS_RESOLUTION,
        config={**NOISY_DIGITS, "noise_kind": kind, **extra}, quick=NOISY_DIGITS_QUICK, quick_seeds=2,
        gates=noisy_digits_gates(MIN_EFFECT), components=components,
    )(run)


for _kind in ("symmetric", "pair"):
    _define(f"ldr-kl-{_kind}-noise", "ldr_kl", _kind, PAPER_LDR, "LDR-KL (lam=10, margin=0.1)", LDR, ("ldr_kl",))
    _define(f"aldr-kl-{_kind}-noise", "aldr_kl", _kind, PAPER_LDR, "ALDR-KL (lam0=10, alpha=2, margin=0.1)", LDR,
            ("aldr_kl",))
