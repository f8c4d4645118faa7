"""USEFUL: up-sampling the slow-learnable cluster of each class on a synthetic simplicity-bias task.

Fixed before any run (catalog row 250): synthetic binary task, 70% of examples carry an easy large-margin
feature, all carry a weaker 20-dim "patch" feature; MLP 2x64, SGD lr 0.05 momentum 0.9, batch 64, 30 epochs;
separating epoch 2, k = 2 clusters per class, the slow cluster duplicated once (factor 2), then
retrained from scratch for the same 30 epochs. Metric: test accuracy.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ...data.useful import useful_upsample
from ..base import claim
from ..tasks import accuracy, mlp, train_epochs


def _useful_data(seed: int, n: int, c: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    s = (2 * y - 1).float()[:, None]  # (n, 1) in {-1, +1}
    has_easy = (torch.rand(n, 1, generator=g) < c["easy_fraction"]).float()
    easy = has_easy * s * c["easy_margin"] + c["easy_noise"] * torch.randn(n, 1, generator=g)
    u = torch.ones(c["patch_dim"]) / c["patch_dim"] ** 0.5  # unit direction of the patch feature
    patch = s * c["patch_margin"] * u + torch.randn(n, c["patch_dim"], generator=g)
    rest = torch.randn(n, c["noise_dim"], generator=g)
    return torch.cat([easy, patch, rest], 1), y


def _useful_train(x, y, seed: int, epochs: int, c: Mapping[str, Any]) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = mlp(x.shape[1], c["hidden"], 2)
    opt = torch.optim.SGD(model.parameters(), lr=c["lr"], momentum=c["momentum"])
    train_epochs(model, x, y, lambda z, t, i: F.cross_entropy(z, t), opt, epochs=epochs,
                 batch_size=c["batch_size"], generator=torch.Generator().manual_seed(seed))
    return model


@claim(
    name="useful-synthetic",
    paper="Changing the Training Data Distribution to Reduce Simplicity Bias Improves In-distribution Generalization",
    statement="Up-sampling the slow-learnable k-means cluster of each class (found after 2 epochs) and retraining "
              "improves in-distribution test accuracy by >= 1 point over standard training.",
    task="synthetic binary data: 70% carry an easy large-margin feature, all a weaker 20-dim patch feature; MLP 2x64",
    baseline="standard training, 30 epochs", treatment="useful_upsample (k=2, factor 2) at epoch 2, retrain 30 epochs",
    metric="test accuracy (%)", direction="higher", min_effect=1.0,
    config={"n_train": 1000, "n_test": 4000, "easy_fraction": 0.7, "easy_margin": 3.0, "easy_noise": 0.3,
            "patch_dim": 20, "patch_margin": 1.5, "noise_dim": 20, "hidden": 64, "lr": 0.05, "momentum": 0.9,
            "batch_size": 64, "epochs": 30, "separating_epoch": 2},
    quick={"epochs": 15}, quick_seeds=2, components=("useful_upsample",),
)
def useful_synthetic(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    x, y = _useful_data(seed, config["n_train"], config)
    x_te, y_te = _useful_data(10_000 + seed, config["n_test"], config)
    if arm == "treatment":
        early = _useful_train(x, y, seed, config["separating_epoch"], config)
        with torch.no_grad():
            early.eval()
            sel = useful_upsample(early(x), y, num_clusters=2, factor=2, seed=seed)
        x, y = x[sel.indices], y[sel.indices]
    return accuracy(_useful_train(x, y, seed, config["epochs"], config), x_te, y_te)
