"""I-Con: kNN-graph clustering on digits, and debiasing its supervisory distribution.

Hyperparameters fixed before any run (catalog hint): digits train split (pixels / 16), p = uniform kNN graph
on raw pixels (k = 10), q = I-Con cluster kernel through a softmax over 10 learned prototypes (the last layer
of `mlp(64, 256, 10, depth=2)`); official defaults AdamW lr 5e-4, weight decay 0, gradient clip 10;
minibatches of 256 with p and q computed within the batch (as the official kernels do), 100 epochs
(quick 30). (Changed once before any claim run: first written as full-batch 300 steps, which a 10-step
timing smoke test showed to be ~10x over the CPU budget.) Baseline: k-means (10 clusters, n_init 10) on raw
pixels. NMI in percent vs the true labels of the same points. Debiasing claim: alpha = 0.2 vs alpha = 0
(official `LeakKernel`).

Minimum effects (NMI in percent, continuous): icon-knn-clustering-digits 2 points: the catalog asks
only NMI >= k-means', and a learned clustering that beats raw-pixel k-means by less than 2 NMI points
would not be called better by a practitioner (the paper's clustering gains are several points);
icon-debias-digits 1 point: the smallest NMI change reported as a gain (the paper's tables report NMI
to one decimal and its debiasing gains are a few points).
Gates: health: every I-Con arm's training loss falls (mean of the last epoch's batches < 0.9 x the first
epoch's). Premise (icon-knn-clustering-digits, baseline arm): the supervisory kNN graph carries the
class structure I-Con is to recover: >= 80% of each point's 10 raw-pixel neighbours share its label
(averaged over the train split). icon-debias-digits has no premise gate beyond health: debiasing needs
only a kNN graph with some wrong neighbours, which the purity below shows.
Measured on the baseline arms (seeds 0-2): k-means NMI 74.2, 74.3, 75.3; kNN purity 0.955-0.957;
I-Con alpha = 0 NMI 77.4, 74.2, 77.1, loss 3.02 -> 1.41-1.49. Cost: k-means ~0.4 s, an I-Con run ~7-12 s
(memoised per process, so icon-knn's treatment and icon-debias's baseline share it within a worker).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import torch
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score
from torch import nn

from ...datasets import load
from ...losses.icon import IConLoss, cluster_log_q, knn_graph
from ..base import claim
from ..gates import loss_decreased, premise
from ..tasks import batches, mlp


ICON_PAPER = "I-Con: A Unifying Framework for Representation Learning"


ICON_CONFIG = {"k": 10, "clusters": 10, "hidden": 256, "lr": 5e-4, "weight_decay": 0.0, "clip": 10.0,
               "batch_size": 256, "steps": 100}


@lru_cache(maxsize=16)
def _icon_nmi(alpha: float, seed: int, steps: int, cfg_items: tuple) -> tuple[float, float, float]:
    """(NMI %, mean batch loss of the first epoch, of the last epoch) of I-Con clustering."""
    cfg = dict(cfg_items)
    split = load("digits", seed=seed)
    x, y = split.x_train, split.y_train
    torch.manual_seed(seed)
    model = mlp(x.shape[1], cfg["hidden"], cfg["clusters"], depth=2)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    loss_fn = IConLoss(alpha=alpha)
    gen = torch.Generator().manual_seed(seed)
    epoch_losses = []
    for _ in range(steps):  # epochs
        batch_losses = []
        for idx in batches(len(x), cfg["batch_size"], gen):
            if len(idx) <= cfg["k"]:
                continue  # a kNN graph needs more than k points
            p = knn_graph(x[idx], cfg["k"])  # (b, b), in-batch neighbours as in the official UniformKNN
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(p, cluster_log_q(model(x[idx])))
            loss.backward()
            batch_losses.append(loss.item())
            nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
            opt.step()
        epoch_losses.append(sum(batch_losses) / len(batch_losses))
    with torch.no_grad():
        pred = model(x).argmax(1)
    return 100.0 * normalized_mutual_info_score(y.numpy(), pred.numpy()), epoch_losses[0], epoch_losses[-1]


def _icon_record(alpha: float, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    cfg = {k: v for k, v in config.items() if k != "alpha"}
    nmi, first, last = _icon_nmi(alpha, seed, config["steps"], _cfg_key(cfg))
    return {"value": nmi, "loss_first": first, "loss_last": last}


def _knn_purity(seed: int, k: int) -> float:
    """Mean fraction of each train point's k raw-pixel nearest neighbours (self excluded) with its label."""
    split = load("digits", seed=seed)
    x, y = split.x_train, split.y_train
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    idx = d.topk(k, dim=1, largest=False).indices  # (n, k)
    return (y[idx] == y[:, None]).float().mean().item()


def _kmeans_nmi(seed: int, clusters: int) -> float:
    split = load("digits", seed=seed)
    pred = KMeans(clusters, n_init=10, random_state=seed).fit_predict(split.x_train.numpy())
    return 100.0 * normalized_mutual_info_score(split.y_train.numpy(), pred)



def _cfg_key(config: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, v) for k, v in config.items() if k != "steps"))


@claim(
    name="icon-knn-clustering-digits", paper=ICON_PAPER,
    statement="I-Con with a kNN-graph supervisory distribution and a prototype cluster kernel clusters "
              "better than k-means on the raw inputs (NMI >= 2 points higher).",
    task="digits train split, MLP 64-256-256-10 prototypes, batch 256",
    baseline="k-means (10 clusters) on raw pixels", treatment="I-Con, p = kNN graph (k=10), alpha = 0",
    metric="NMI (%)", direction="higher", min_effect=2.0,
    config=ICON_CONFIG, quick={"steps": 30}, quick_seeds=2,
    gates=(loss_decreased(arms=("treatment",)),
           premise("knn_purity", ">=", 0.8, "the supervisory kNN graph (k = 10, raw pixels) links same-class digits: "
                   ">= 80% of the neighbours share the point's label")),
    components=("icon_loss",),
)
def icon_vs_kmeans(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    if arm == "baseline":
        return {"value": _kmeans_nmi(seed, config["clusters"]), "knn_purity": _knn_purity(seed, config["k"])}
    return _icon_record(0.0, seed, config)


@claim(
    name="icon-debias-digits", paper=ICON_PAPER,
    statement="Debiasing the supervisory distribution (mixing in uniform mass alpha) improves I-Con clustering "
              "(NMI >= 1 point higher).",
    task="digits train split, MLP 64-256-256-10 prototypes, batch 256",
    baseline="I-Con kNN clustering, alpha = 0", treatment="I-Con kNN clustering, alpha = 0.2",
    metric="NMI (%)", direction="higher", min_effect=1.0,
    config={**ICON_CONFIG, "alpha": 0.2}, quick={"steps": 30}, quick_seeds=2,
    gates=(loss_decreased(),), components=("icon_loss",),
)
def icon_debias(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    return _icon_record(config["alpha"] if arm == "treatment" else 0.0, seed, config)
