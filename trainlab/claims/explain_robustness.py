"""Uniformly smoothed attributions under attribution attacks; level-set traversal between digits.

smoothed-attribution-robustness-digits. Set-up fixed before any run (catalog hint for arXiv:2405.06361):
a softplus MLP (2 x 128, beta = 10, so the input Hessian is non-zero and the attack has a signal)
trained on digits (pixels in [0, 1]; Adam lr 1e-3, 30 epochs, batch 64); the first 200 test images;
attribution = input gradient of the predicted class's logit. Attack: l2 PGD with eps = 0.1, 10 steps
of size eps / 4, minimising the cosine between the attribution at x + delta and at x, keeping only
iterates whose predicted label is unchanged (the lowest-cosine one is kept). Baseline arm: the
vanilla gradient; treatment arm: its uniform smoothing on the l2 ball of radius r = 1.0 (the
attack differentiates a 16-sample estimate with fresh noise per step; evaluation uses 128 samples
with the same noise at x and x + delta). Metric: mean cosine(attr(x + delta), attr(x)); the catalog's
claim is a gain >= 0.2.

level-set-traversal-digits (catalog hint for arXiv:2310.19889): a ReLU MLP (2 x 128) trained as above;
50 source/target pairs of correctly classified test images of different classes (source i, target
the next test image of another class); 300 steps of size 0.02, Newton correction 1, pixels clipped to
[0, 1], confidence = softmax probability of the source class. A pair succeeds when the end point is
within 20% of the initial distance to x_tgt and the source-class probability is >= 0.9x its start.
Baseline arm: the same 300 steps toward x_tgt without the projection (the straight line). Metric:
fraction of successful pairs; claimed gain >= 0.5.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..datasets import load
from ..explain.level_set import level_set_traversal
from ..explain.smoothed import uniform_ball_noise
from ._train import mlp, train_epochs
from .base import claim


def _train_digits(seed: int, config: Mapping[str, Any], act: nn.Module | None) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    x_tr, y_tr, x_te, y_te = load("digits", seed=seed)
    torch.manual_seed(seed)
    model = mlp(64, config["hidden"], 10)
    if act is not None:  # swap every ReLU for the smooth activation
        model = nn.Sequential(*[act if isinstance(m, nn.ReLU) else m for m in model])
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    train_epochs(model, x_tr, y_tr, lambda logits, t, idx: F.cross_entropy(logits, t), opt,
                 epochs=config["epochs"], batch_size=64, generator=torch.Generator().manual_seed(seed))
    return model.eval(), x_te, y_te


def _smooth_model_images(seed: int, config: Mapping[str, Any]) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The Softplus(beta) digits MLP with frozen weights, its first `images` test images x (N, D) and
    its predicted labels t (N,) on them (the attributed class, which the attacks keep fixed)."""
    model, x_te, _ = _train_digits(seed, config, nn.Softplus(beta=config["beta"]))
    for p in model.parameters():
        p.requires_grad_(False)
    x = x_te[: config["images"]]
    with torch.no_grad():
        t = model(x).argmax(1)
    return model, x, t


def _attr(model: nn.Module, x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None,
          graph: bool) -> torch.Tensor:
    """Input gradient of logit t at x (N, D), or its mean over x + noise[s] for noise (S, N, D)."""
    pts = x.unsqueeze(0) if noise is None else x.unsqueeze(0) + noise  # (S, N, D)
    s = pts.shape[0]
    pts = pts.reshape(-1, x.shape[1])
    if not graph:
        pts = pts.detach().requires_grad_(True)
    with torch.enable_grad():
        f = model(pts).gather(1, t.repeat(s)[:, None]).sum()
        (g,) = torch.autograd.grad(f, pts, create_graph=graph)
    return g.view(s, *x.shape).mean(0)


@claim(
    name="smoothed-attribution-robustness-digits",
    paper="Certified ell_2 Attribution Robustness via Uniformly Smoothed Attributions",
    statement="Under an l2 attribution attack (eps = 0.1), uniformly smoothed gradients (r = 1) keep a "
              "cosine similarity to the clean attribution >= 0.2 higher than the vanilla gradient.",
    task="digits softplus MLP 2x128, 200 test images, l2 PGD attribution attack, label kept",
    baseline="vanilla input gradient", treatment="uniformly smoothed gradient (l2 ball r = 1.0)",
    metric="mean cosine(attr(x + delta), attr(x)) under attack", direction="higher", min_effect=0.2,
    config={"hidden": 128, "lr": 1e-3, "epochs": 30, "images": 200, "eps": 0.1, "pgd_steps": 10,
            "radius": 1.0, "attack_samples": 16, "eval_samples": 128, "beta": 10.0},
    quick={"epochs": 15, "images": 100}, seeds=3, quick_seeds=2,
    components=("uniform_smoothed",),
)
def smoothed_attribution_robustness_digits(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    model, x, t = _smooth_model_images(seed, config)
    n, d, eps = x.shape[0], x.shape[1], config["eps"]
    gen = torch.Generator().manual_seed(1000 + seed)
    smooth = arm == "treatment"

    def noise(s: int) -> torch.Tensor | None:
        return uniform_ball_noise(s * n, d, config["radius"], gen).view(s, n, d) if smooth else None

    eval_noise = noise(config["eval_samples"])
    clean = _attr(model, x, t, eval_noise, graph=False)
    clean_attack = _attr(model, x, t, noise(config["attack_samples"]), graph=False)
    delta = eps * torch.randn(n, d, generator=gen) / d ** 0.5  # start inside the ball
    best, best_cos = torch.zeros_like(x), torch.ones(n)
    for _ in range(config["pgd_steps"]):
        dl = delta.clone().requires_grad_(True)
        with torch.enable_grad():
            cos = F.cosine_similarity(_attr(model, x + dl, t, noise(config["attack_samples"]), graph=True),
                                      clean_attack, dim=1)
            (step,) = torch.autograd.grad(cos.sum(), dl)
        delta = delta - (eps / 4) * step / step.norm(dim=1, keepdim=True).clamp_min(1e-12)
        delta = delta * (eps / delta.norm(dim=1, keepdim=True).clamp_min(eps))  # project on the l2 ball
        with torch.no_grad():
            same = model(x + delta).argmax(1) == t
        now = F.cosine_similarity(_attr(model, x + delta, t, eval_noise, graph=False), clean, dim=1)
        better = same & (now < best_cos)
        best[better], best_cos[better] = delta[better], now[better]
    return best_cos.mean().item()


@claim(
    name="level-set-traversal-digits",
    paper="Exploring Geometry of Blind Spots in Vision Models",
    statement="Level-set traversal reaches within 20% of the initial distance to a different-class target "
              "digit while keeping >= 0.9x the source-class confidence, for most pairs.",
    task="digits ReLU MLP 2x128, 50 source/target pairs of different classes, 300 steps",
    baseline="300 steps straight toward x_tgt (no projection)", treatment="level-set traversal (300 steps)",
    metric="fraction of pairs ending near x_tgt with the source confidence kept", direction="higher",
    min_effect=0.5,
    config={"hidden": 128, "lr": 1e-3, "epochs": 30, "pairs": 50, "steps": 300, "step_size": 0.02,
            "reach": 0.2, "keep": 0.9},
    quick={"epochs": 15, "pairs": 25}, seeds=3, quick_seeds=2,
    components=("level_set_traversal",),
)
def level_set_traversal_digits(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    model, x_te, y_te = _train_digits(seed, config, None)
    with torch.no_grad():
        pred = model(x_te).argmax(1)
    ok = (pred == y_te).nonzero().squeeze(1).tolist()
    src, tgt = [], []
    for k, i in enumerate(ok):
        j = next((j for j in ok[k + 1:] if pred[j] != pred[i]), None)
        if j is not None and len(src) < config["pairs"]:
            src.append(i)
            tgt.append(j)
    xs, xt, cls = x_te[src], x_te[tgt], pred[src]
    if arm == "treatment":
        end = level_set_traversal(model, xs, xt, target=cls, steps=config["steps"],
                                  step_size=config["step_size"], clamp=(0.0, 1.0))[-1]
    else:
        end = xs + (1 - (1 - config["step_size"]) ** config["steps"]) * (xt - xs)
    with torch.no_grad():
        p0 = model(xs).softmax(1).gather(1, cls[:, None]).squeeze(1)
        p1 = model(end).softmax(1).gather(1, cls[:, None]).squeeze(1)
    near = (end - xt).norm(dim=1) <= config["reach"] * (xs - xt).norm(dim=1)
    return (near & (p1 >= config["keep"] * p0)).float().mean().item()
