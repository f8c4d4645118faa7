"""Claims of `trainlab.losses.mixup`: early-stopped mixup, and Mixup + temperature scaling on overlapping classes.

mixup-early-stop-digits (catalog hint): digits MLP, alpha 1, mixup stopped after 30% of the epochs vs mixup
throughout; the digits optimiser of `tasks.DIGITS_SGD`. Fixed before any run.

mixup-ts-calibration-overlap. "On the Limitations of Temperature Scaling for Distributions with Overlaps"
proves that, when the supports of classes overlap, temperature scaling (TS) of an empirical risk minimiser
calibrates poorly, while training on the Mixup-induced risk calibrates well; it checks this on image
benchmarks whose class overlap comes from label noise.
Set-up (fixed before any run): digits (pixels / 16), the class overlap made by 30% symmetric label
noise on EVERY split (the noisy labels define the distribution, so calibration is judged against
them, as in the paper's noisy-label benchmarks); 20% of the training split is held out (stratified by
a seeded permutation) to fit the temperature. MLP 64-128-128-10 trained as the noisy-label claims
(SGD momentum 0.9, lr 0.02, weight decay 1e-3, batch 128, cosine annealing, 120 epochs; 40 quick).
Mixup: alpha = 1 (the paper's and the usual choice), coefficient and partner per batch. Metric: ECE
(15 equal-width bins, top label, percent) of the temperature-scaled test predictions.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ...datasets import add_label_noise, load
from ...losses.mixup import Mixup
from ...metrics.calibration import TemperatureScaling, expected_calibration_error
from ..base import claim
from ..tasks import DIGITS_SGD, accuracy, mlp, train_sgd_mixup
from ..base import PROVISIONAL_MIN_EFFECT  # replaced from the paper before the evidence run


# ------------------------------------------------------------------------------------------ early-stopped mixup
def mixup_accuracy(stop_fraction: float | None, seed: int, config: Mapping[str, Any]) -> float:
    """Digits MLP with mixup (alpha from config), stopped after `stop_fraction` of the epochs; test acc (%)."""
    x_tr, y_tr, x_te, y_te = load("digits", seed=seed)
    torch.manual_seed(seed)
    model = mlp(64, config["hidden"], 10)
    stop = None if stop_fraction is None else int(round(stop_fraction * config["epochs"]))
    train_sgd_mixup(model, x_tr, y_tr, config, seed, Mixup(alpha=config["alpha"], stop_epoch=stop, seed=seed))
    return accuracy(model, x_te, y_te)


@claim(
    name="mixup-early-stop-digits",
    paper="The Benefits of Mixup for Feature Learning",
    statement="Mixup stopped after 30% of training (then plain training) reaches at least the test accuracy of "
              "mixup used throughout (effect > 0).",
    task="digits (pixels in [0, 1]), MLP 64-128-128-10, SGD 120 epochs",
    baseline="mixup (alpha=1) for all epochs", treatment="mixup (alpha=1) for the first 30% of epochs",
    metric="test accuracy (%)", direction="higher", min_effect=PROVISIONAL_MIN_EFFECT,
    config={**DIGITS_SGD, "alpha": 1.0, "stop_fraction": 0.3},
    quick={"epochs": 40}, quick_seeds=2, components=("mixup",),
)
def mixup_early_stop_digits(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return mixup_accuracy(config["stop_fraction"] if arm == "treatment" else None, seed, config)


# ------------------------------------------------------------------------------------------ Mixup + temperature scaling
TS_PAPER = "On the Limitations of Temperature Scaling for Distributions with Overlaps"
TS_CONFIG = {"noise": 0.3, "holdout": 0.2, "hidden": 128, "lr": 0.02, "momentum": 0.9, "weight_decay": 1e-3,
          "batch_size": 128, "epochs": 120, "alpha": 1.0, "n_bins": 15}
TS_QUICK = {"epochs": 40}


def ts_test_ece(use_mixup: bool, seed: int, config: Mapping[str, Any]) -> float:
    """Train (ERM or Mixup) on noisy digits, fit TS on the held-out split; test ECE (%) after TS."""
    x_tr, y_tr, x_te, y_te = load("digits", seed=seed)
    y_tr, _ = add_label_noise(y_tr, config["noise"], 10, seed=seed)
    y_te, _ = add_label_noise(y_te, config["noise"], 10, seed=seed + 10_000)
    perm = torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(seed))
    n_hold = int(round(config["holdout"] * len(x_tr)))
    hold, train = perm[:n_hold], perm[n_hold:]

    torch.manual_seed(seed)
    model = mlp(64, config["hidden"], 10)
    mix = Mixup(alpha=config["alpha"], seed=seed) if use_mixup else None
    train_sgd_mixup(model, x_tr[train], y_tr[train], config, seed, mix)

    model.eval()
    with torch.no_grad():
        ts = TemperatureScaling().fit(model(x_tr[hold]), y_tr[hold])
        probs = torch.softmax(ts(model(x_te)), dim=1)
    return 100.0 * float(expected_calibration_error(probs, y_te, n_bins=config["n_bins"]))


@claim(
    name="mixup-ts-calibration-overlap",
    paper=TS_PAPER,
    statement="With class overlap (30% symmetric label noise), Mixup training followed by temperature scaling "
              "has a lower test ECE than ERM followed by temperature scaling, by >= 1 ECE point.",
    task="digits, 30% symmetric label noise on all splits, MLP 64-128-128-10, 120 epochs SGD, TS on 20% held out",
    baseline="ERM (cross-entropy) + temperature scaling", treatment="Mixup (alpha=1) + temperature scaling",
    metric="test ECE after temperature scaling (%, 15 equal-width bins)", direction="lower", min_effect=1.0,
    config=TS_CONFIG, quick=TS_QUICK, quick_seeds=2,
    components=("mixup", "temperature_scaling", "ece"),
)
def mixup_ts_calibration(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return ts_test_ece(arm == "treatment", seed, config)
