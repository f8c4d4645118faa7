"""GIO (Gradient Information Optimization) against a random subset of the same size.

Fixed before any run (catalog row 124): digits; target = 50 test images of classes 0-4 (drawn by seed), PCA-20
embedding fitted on the pool; pool = the train split + 300 uniform-noise images with random labels;
official defaults k = 5, 50 gradient steps, lr 0.01, 20 uniform start points, stop at the first KL
increase. Random arm = a uniform subset of the pool of the GIO size. Metric: accuracy on the other
test images of classes 0-4 of LogisticRegression(max_iter=1000) trained on the subset's pixels.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ...data.gio import gio_select
from ...datasets import load
from ..base import claim
from ..tasks import shared_per_config
from ..base import PROVISIONAL_MIN_EFFECT  # replaced from the paper before the evidence run


@shared_per_config
def gio_run(seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    """Both arms of the GIO claim for one seed: accuracies and the fraction of noise images picked."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    x, y, x_te, y_te = load("digits", seed=seed)
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(config["n_noise"], x.shape[1], generator=g)  # pixels in [0, 1] like digits / 16
    pool_x = torch.cat([x, noise])
    pool_y = torch.cat([y, torch.randint(0, 10, (config["n_noise"],), generator=g)])
    low = torch.nonzero(y_te < 5).flatten()
    low = low[torch.randperm(len(low), generator=g)]
    tgt, ev = low[:config["n_target"]], low[config["n_target"]:]
    pca = PCA(config["pca_dim"], random_state=seed).fit(pool_x.numpy())
    res = gio_select(pca.transform(x_te[tgt].numpy()), pca.transform(pool_x.numpy()), k=config["k"],
                     grad_steps=config["grad_steps"], lr=config["lr"], init_size=config["init_size"],
                     v_init=config.get("v_init", "mean"), seed=seed)
    size = len(res.indices)
    rand = torch.randperm(len(pool_x), generator=g)[:size]
    out: dict[str, float] = {"size": float(size)}
    for arm, idx in (("baseline", rand), ("treatment", res.indices)):
        clf = LogisticRegression(max_iter=config["max_iter"]).fit(pool_x[idx].numpy(), pool_y[idx].numpy())
        out[arm] = 100.0 * float((clf.predict(x_te[ev].numpy()) == y_te[ev].numpy()).mean())
        out[arm + "_noise_fraction"] = float((idx >= len(x)).float().mean())
    return out


@claim(
    name="gio-digits",
    paper="GIO: Gradient Information Optimization for Training Dataset Selection",
    statement="A GIO-selected subset (target: 50 unlabelled images of digits 0-4) trains a classifier with higher "
              "accuracy on test digits 0-4 than a random subset of the same size, from a pool with 300 noise images.",
    task="digits train + 300 uniform-noise images, PCA-20 embedding, logistic regression on the subset",
    baseline="random subset of the GIO size", treatment="gio_select (k=5, 50 steps, lr 0.01, stop on KL increase)",
    metric="test accuracy (%) on held-out digits 0-4", direction="higher", min_effect=PROVISIONAL_MIN_EFFECT,
    config={"n_noise": 300, "n_target": 50, "pca_dim": 20, "k": 5, "grad_steps": 50, "lr": 0.01,
            "init_size": 20, "max_iter": 1000},
    quick={"grad_steps": 20, "max_iter": 300}, quick_seeds=2, components=("gio_select",),
)
def gio_digits(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return gio_run(seed, config)[arm]
