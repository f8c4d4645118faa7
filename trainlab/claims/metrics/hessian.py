"""Gradient descent happens in a tiny subspace: the gradient lies mostly in the top-k Hessian eigenspace.

Set-up fixed before any run (catalog hint for "Gradient Descent Happens in a Tiny Subspace"; the
paper's fully-connected MNIST settings where the hint is silent): digits (pixels / 16), MLP
64-32-10 (one hidden ReLU layer of 32, P = 2410 parameters), cross-entropy, plain SGD lr 0.1,
batch size 64, 10 epochs; k = 10 (the number of classes). After one warm-up epoch, at the end of
each epoch 2..10, both the Hessian and the gradient are computed on the full training split; the
top-10 eigenvectors come from 40 Lanczos steps on Hessian-vector products (full reorthogonalisation).
Treatment: the fraction ||U_k^T g||^2 / ||g||^2 with U_k the top-10 Hessian eigenvectors, averaged
over the checkpoints. Baseline: the same fraction for a fresh random 10-dim subspace (QR of a
Gaussian matrix) at each checkpoint, expected k/P = 0.004.
The claim counts as reproduced if the mean paired difference is >= 0.5 (with a CI above 0).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...datasets import load
from ...metrics.hessian import flat_gradient, hessian_top_eigenspace
from ...metrics.subspace import gradient_subspace_fraction
from ..base import claim
from ..tasks import mlp, train_epochs


def subspace_fractions(seed: int, config: Mapping[str, Any], top: bool) -> list[float]:
    """Gradient fraction in the top-k Hessian (top=True) or a random k-dim subspace, per checkpoint."""
    split = load("digits", seed=seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = mlp(64, config["hidden"], 10, depth=1)
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"])

    def loss_fn(logits: torch.Tensor, y: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
        return F.cross_entropy(logits, y)

    data = (split.x_train, split.y_train)
    rand = torch.Generator().manual_seed(10_000 + seed)
    train_epochs(model, *data, loss_fn, opt, epochs=config["warmup_epochs"], batch_size=config["batch_size"],
                 generator=gen)
    fractions = []
    for _ in range(config["epochs"] - config["warmup_epochs"]):
        train_epochs(model, *data, loss_fn, opt, epochs=1, batch_size=config["batch_size"], generator=gen)
        g = flat_gradient(model, loss_fn, data)
        if top:
            _, u = hessian_top_eigenspace(model, loss_fn, data, k=config["k"], iters=config["lanczos_iters"],
                                          seed=seed)
        else:
            u, _ = torch.linalg.qr(torch.randn(g.numel(), config["k"], dtype=torch.float64, generator=rand))
        fractions.append(gradient_subspace_fraction(g, u))
    return fractions


@claim(
    name="tiny-subspace-digits",
    paper="Gradient Descent Happens in a Tiny Subspace",
    statement="After a short warm-up, most of the gradient lies in the span of the top-k Hessian eigenvectors "
              "(k = number of classes), far more than in a random k-dim subspace.",
    task="digits, MLP 64-32-10 (2410 params), SGD lr 0.1, batch 64, 10 epochs; full-train-set Hessian and gradient",
    baseline="gradient fraction in a random 10-dim subspace", treatment="gradient fraction in the top-10 Hessian eigenspace",
    metric="mean over epochs 2..10 of ||U^T g||^2 / ||g||^2", direction="higher", min_effect=0.5,
    config={"hidden": 32, "lr": 0.1, "batch_size": 64, "epochs": 10, "warmup_epochs": 1, "k": 10, "lanczos_iters": 40},
    quick={"epochs": 4}, quick_seeds=2,
    components=("hessian_top_eigenspace", "gradient_subspace_fraction"),
)
def tiny_subspace_digits(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    fractions = subspace_fractions(seed, config, top=arm == "treatment")
    return sum(fractions) / len(fractions)
