"""Representation calibration (RCAL) on long-tailed noisy digits.

RCAL (catalog claim hint): digits training split made long-tailed (class k keeps n_max * 10^(-k/9) examples,
imbalance ratio 10), then 20% symmetric noise; 20-dim PCA of the (unlabelled) training pixels as the
representation. Baseline: multinomial logistic regression (sklearn defaults, C=1). Treatment: the same model
on real + RCAL-sampled features (LOF robust Gaussians, tail calibration with the q=2 nearest head classes and
alpha=0.21 as in "Free Lunch for Few-shot Learning", which RCAL follows for this step; n_max samples per class).
Metric: balanced test accuracy (%).

Why this setting can show the effect: RCAL's premise is that the long tail and the noise together cost a
plain classifier accuracy on the tail classes. A linear model on 20 PCA features cannot memorise labels, so
the premise here is that loss itself: on the baseline arm, the same pipeline (PCA 20 + logistic regression)
trained on the balanced training split (every class cut to the smallest class's count, ~130) with its clean
labels ("ref_acc", same seed) must beat the baseline's balanced accuracy by >= min_effect + 5 points
("room"). Measured (baseline arm, seeds 0-5): room 8.6-12.4 points (baseline 83.2-87.0, reference
95.1-96.2). Health: both arms above chance (10%) by 10 points.

Minimum effect 3 points of balanced accuracy: the catalog's claim ("beats plain logistic regression balanced
accuracy by >= 3 pts"). One test image changes its class's recall by ~100/45 points and the balanced accuracy
by a tenth of that, ~0.22 points. Seeds: 10, with a second look at 20 (a run takes well under a second).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from ...data.rcal import RepresentationCalibration
from ...datasets import add_label_noise, load
from ..base import claim
from ..gates import above_chance, premise


PAPER_RCAL = "When Noisy Labels Meet Long Tail Dilemmas: A Representation Calibration Method"
RCAL = {"imbalance": 10.0, "noise": 0.2, "pca_dim": 20, "q": 2, "alpha": 0.21, "n_neighbors": 20}


def long_tailed_noisy_digits(seed: int, config: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
    """(z_train, y_noisy, z_test, y_test): long-tailed (ratio `imbalance`) noisy digits as PCA features.

    With imbalance 1 and noise 0: every class cut to the smallest class's count, clean labels (the premise's
    reference)."""
    x_tr, y_tr, x_te, y_te = load("digits", seed=seed)
    rng = np.random.default_rng(seed)
    y_np = y_tr.numpy()
    n_max = int(np.bincount(y_np).min())
    keep = np.concatenate([rng.permutation(np.flatnonzero(y_np == k))[: int(n_max * config["imbalance"] ** (-k / 9))]
                           for k in range(10)])
    y_noisy, _ = add_label_noise(y_tr[keep], config["noise"], 10, kind="symmetric", seed=seed)
    pca = PCA(config["pca_dim"], random_state=seed).fit(x_tr[keep].numpy())
    return pca.transform(x_tr[keep].numpy()), y_noisy.numpy(), pca.transform(x_te.numpy()), y_te.numpy()


def rcal_balanced_accuracy(use_rcal: bool, seed: int, config: Mapping[str, Any]) -> float:
    """Balanced clean test accuracy (%) of logistic regression, with or without RCAL-sampled features.

    sklearn runs with one BLAS thread (a multi-threaded BLAS on a loaded 2-core machine is ~100x slower)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        z, y, z_te, y_te = long_tailed_noisy_digits(seed, config)
        if use_rcal:
            rc = RepresentationCalibration(10, q=config["q"], alpha=config["alpha"],
                                           n_neighbors=config["n_neighbors"]).fit(z, y)
            zs, ys = rc.sample(int(np.bincount(y).max()), seed=seed)
            z, y = np.concatenate([z, zs.numpy()]), np.concatenate([y, ys.numpy()])
        clf = LogisticRegression(max_iter=5000).fit(z, y)
        return 100.0 * float(balanced_accuracy_score(y_te, clf.predict(z_te)))


def rcal_baseline(seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    """Plain logistic regression on the long-tailed noisy split, and the premise: the same pipeline on the
    balanced training split with clean labels ("ref_acc"); "room" = ref_acc - value."""
    value = rcal_balanced_accuracy(False, seed, config)
    ref = rcal_balanced_accuracy(False, seed, {**config, "imbalance": 1.0, "noise": 0.0})
    return {"value": value, "ref_acc": ref, "room": ref - value}


@claim(
    name="rcal-longtail-noisy-digits",
    paper=PAPER_RCAL,
    statement="Training a linear classifier on real + RCAL-sampled representations (robust per-class Gaussians, "
              "tail calibration) raises balanced test accuracy over plain logistic regression by >= 3 points "
              "on long-tailed (ratio 10), 20%-noisy digits.",
    task="digits, long-tailed train split (ratio 10) + 20% symmetric noise, 20-dim PCA features, logistic regression",
    baseline="logistic regression on real features", treatment="logistic regression on real + RCAL samples "
                                                                "(q=2, alpha=0.21, LOF k=20)",
    metric="balanced clean test accuracy (%)", direction="higher", min_effect=3.0, resolution=100 / 450,
    config=RCAL, quick={}, quick_seeds=2, second_look=20,
    gates=(above_chance(10.0, 10.0),
           premise("room", ">=", 3.0 + 5.0,
                   "long tail + noise cost the baseline pipeline >= min_effect + 5 points of balanced accuracy against "
                   "the same pipeline on the balanced split with clean labels (room for the claimed gain)")),
    components=("rcal",),
)
def rcal_longtail_noisy_digits(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float] | float:
    if arm == "baseline":
        return rcal_baseline(seed, config)
    return rcal_balanced_accuracy(True, seed, config)
