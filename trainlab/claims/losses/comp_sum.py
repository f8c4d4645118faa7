"""A comp-sum loss (GCE) against cross-entropy on digits with 40% symmetric label noise.

Set-up (fixed before any run; `tasks.NOISY_DIGITS`, shared with the other noisy-digits claims): digits
(pixels / 16, 75/25 stratified split), 40% symmetric noise on the training labels only, MLP 64-128-128-10,
SGD momentum 0.9, lr 0.1, weight decay 1e-3, batch 128, cosine annealing over 200 epochs (20 in quick
mode), no early stopping: the final model is scored on the clean test set. GCE q = 0.7 (the GCE paper's
value), i.e. comp-sum tau = 1 + q = 1.7, between cross-entropy (tau = 1) and MAE (tau = 2).

Why this setting can show the effect: a bounded comp-sum loss helps under noise because cross-entropy
memorises the wrong labels. The earlier set-up (lr 0.02, 120 epochs) never converged on them: CE fitted 1-3%
of the flipped labels and lost only 1.6-1.8 points against clean labels. With lr 0.1 and 200 epochs CE fits
98.1-99.4% of the flipped labels and loses 24.7-34.0 points (baseline arm, seeds 0-5; `tasks.NOISY_DIGITS`).

Gates: both arms above chance (10%) by 10 points; premise on the baseline arm: the noise costs CE >= 1 + 5
points of clean accuracy (clean-label CE run with the same seed, memoised across the noisy-digits claims)
and CE fits >= 90% of the flipped training labels.

Minimum effect 1 point: the catalog states only "tau = 1.5 >= CE under 40% symmetric noise"; 1 point
(4.5 of 450 test images, > 2x the resolution) is the smallest gain a practitioner would switch losses for.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...losses import GCELoss
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


def gce_loss(config: Mapping[str, Any]):
    def make(num_train: int) -> LossFn:
        gce = GCELoss(q=config["q"])
        return lambda logits, t, idx: gce(logits, t)

    return make


@claim(
    name="gce-noisy-digits",
    paper="Cross-Entropy Loss Functions: Theoretical Analysis and Applications",
    statement="A comp-sum loss between cross-entropy and MAE (GCE, q=0.7, i.e. tau=1.7) raises clean test "
              "accuracy over cross-entropy by >= 1 point under 40% symmetric label noise.",
    task=NOISY_DIGITS_TASK.format("symmetric"),
    baseline="cross-entropy", treatment="GCE q=0.7 (comp-sum tau=1.7)",
    metric="clean test accuracy (%)", direction="higher", min_effect=1.0, resolution=DIGITS_RESOLUTION,
    config={**NOISY_DIGITS, "q": 0.7}, quick=NOISY_DIGITS_QUICK, quick_seeds=2,
    gates=noisy_digits_gates(1.0), components=("gce", "comp_sum"),
)
def gce_noisy_digits(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    if arm == "baseline":
        return noisy_digits_baseline(seed, config)
    return train_noisy_digits(gce_loss(config), seed, config)
