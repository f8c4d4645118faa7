"""Relative representations: zero-shot stitching and neighbourhood agreement across seeds.

Relative representations (set-up fixed before any run; catalog hint + the paper's stitching protocol):
digits; each model = MLP encoder 64-128-ReLU-64 -> [relative projection onto 64 anchors, re-embedded by
the encoder at every forward | identity] -> linear decoder to 10 classes, trained end to end (Adam 1e-3,
30 epochs, batch 64). Models A and B differ only by the init seed (seed, seed + 1000); the 64 anchors
are the same training samples for both. Stitching = B's encoder into A's decoder, test accuracy (%).
The pair of models of one (arm, seed) is memoised, so the two claims share their training in one process.

Why the setting can show the effect, and the gates (both claims): relative representations are invariant to
angle-preserving maps of a latent space, so they help exactly when two seeds' latent spaces differ by
(approximately) such a map. Premise (baseline run only, the absolute models): an orthogonal map with one scale,
fitted by Procrustes on the training latents of B and A, stitches B's encoder into A's decoder at >= 80% test
accuracy. Health: model A's own test accuracy exceeds 60% in each arm (chance 10%).
Minimum effects: stitching +50 points (catalog: relative >= 90% of in-model accuracy, ~85%, while absolute
stitching is <= 30%; resolution one of 450 test images = 0.22 points); neighbour Jaccard@10 +0.05 (the paper
reports large gains in neighbourhood similarity without a digits number; 0.05 of a [0, 1] overlap is the smallest
change we would call a better agreement; continuous).
Cost (full mode, one thread): ~3.5 s per run (two models per arm); a second look at 20 seeds is not declared.
Baseline premise (full mode, baseline arm only, stitching claim, seeds 0-2): Procrustes stitching 97.1 / 96.4 /
96.4%, absolute stitching 14.0 / 2.0 / 6.2%, in-model accuracy 96-97%.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn

from ...datasets import load
from ...metrics.relative import neighbour_jaccard, relative_representation
from ..base import claim
from ..gates import above_chance, premise
from ..tasks import fit_adam, mlp, shared_per_config


REL = "Relative representations enable zero-shot latent space communication"


class _Stitchable(nn.Module):
    def __init__(self, relative: bool, anchors_x: Tensor, latent: int, hidden: int) -> None:
        super().__init__()
        self.encoder = mlp(64, hidden, latent, depth=1)
        self.relative = relative
        self.register_buffer("anchors_x", anchors_x)  # (K, 64) raw anchor inputs
        self.decoder = nn.Linear(anchors_x.shape[0] if relative else latent, 10)

    def embed(self, x: Tensor) -> Tensor:
        z = self.encoder(x)
        return relative_representation(z, self.encoder(self.anchors_x)) if self.relative else z

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.embed(x))


@shared_per_config
def _pair(relative: bool, seed: int, config: Mapping[str, Any]):
    """The two trained models (A, B) of one arm and seed (shared: read only), the training and test split."""
    d = load("digits", seed=seed)
    x, y, x_te, y_te = d.x_train, d.y_train, d.x_test, d.y_test
    anchors = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[: config["anchors"]]]
    models = []
    for s in (seed, seed + 1000):
        torch.manual_seed(s)
        m = _Stitchable(relative, anchors, config["latent"], config["hidden"])
        fit_adam(m, x, y, lr=config["lr"], epochs=config["epochs"], batch_size=config["batch_size"], seed=s)
        models.append(m.eval())
    return models, x, x_te, y_te


@torch.no_grad()
def _health(relative: bool, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    """A's own test accuracy, and B's encoder stitched into A's decoder through the Procrustes map (orthogonal
    R and one scale s, no centring) fitted on the training latents z_B s R ~ z_A (both in % test accuracy)."""
    (a, b), x, x_te, y_te = _pair(relative, seed, config)
    za, zb = a.encoder(x).double(), b.encoder(x).double()
    u, sv, vt = torch.linalg.svd(zb.T @ za)
    rot, scale = u @ vt, float(sv.sum() / zb.square().sum())
    mapped = (scale * b.encoder(x_te).double() @ rot).float()
    if relative:  # A's decoder reads relative coordinates: re-embed the mapped latents against A's anchors
        mapped = relative_representation(mapped, a.encoder(a.anchors_x))
    return {"in_model_accuracy": 100.0 * float((a(x_te).argmax(1) == y_te).float().mean()),
            "procrustes_stitching": 100.0 * float((a.decoder(mapped).argmax(1) == y_te).float().mean())}


def stitching_accuracy(relative: bool, seed: int, config: Mapping[str, Any]) -> float:
    (a, b), _, x_te, y_te = _pair(relative, seed, config)
    with torch.no_grad():
        return 100.0 * float((a.decoder(b.embed(x_te)).argmax(1) == y_te).float().mean())


_REL_GATES = (above_chance(10.0, 50.0, key="in_model_accuracy"),
              premise("procrustes_stitching", ">=", 80.0, "the two seeds' absolute latent spaces differ by an "
                      "approximately angle-preserving map (the invariance of relative representations): an "
                      "orthogonal Procrustes map with one scale stitches them at >= 80% test accuracy"))


_REL_CONFIG = dict(anchors=64, latent=64, hidden=128, lr=1e-3, epochs=30, batch_size=64)


@claim(
    name="relrep-stitching-digits", paper=REL,
    statement="Zero-shot stitching (encoder B into decoder A, different seeds) works with relative "
              "representations but not with absolute embeddings.",
    task="digits, MLP encoder 64-128-64 + linear decoder, 64 anchors, two init seeds",
    baseline="absolute latent (no projection) stitching", treatment="relative (cosine to anchors) stitching",
    metric="stitched test accuracy (%)", direction="higher",
    min_effect=50.0, resolution=100 / 450,  # catalog: relative >= 90% of in-model (~95%) while absolute <= 30%
    config=_REL_CONFIG, quick={"epochs": 10}, gates=_REL_GATES,
    components=("relative_representation", "relative_projection"),
)
def _relrep_stitching(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    relative = arm == "treatment"
    return {"value": stitching_accuracy(relative, seed, config), **_health(relative, seed, config)}


def jaccard_between_seeds(relative: bool, seed: int, config: Mapping[str, Any]) -> float:
    (a, b), _, x_te, _ = _pair(relative, seed, config)
    with torch.no_grad():
        return neighbour_jaccard(a.embed(x_te), b.embed(x_te), k=10)


@claim(
    name="relrep-jaccard-digits", paper=REL,
    statement="Neighbourhoods agree more across two seeds' spaces in relative than in absolute coordinates.",
    task="digits test set, the same two-seed models as relrep-stitching-digits",
    baseline="Jaccard@10 between absolute latents", treatment="Jaccard@10 between relative representations",
    metric="mean neighbour Jaccard@10", direction="higher", min_effect=0.05,
    config=_REL_CONFIG, quick={"epochs": 10}, gates=_REL_GATES,
    components=("relative_representation", "neighbour_jaccard"),
)
def _relrep_jaccard(arm: str, seed: int, config: Mapping[str, Any]) -> dict[str, float]:
    relative = arm == "treatment"
    return {"value": jaccard_between_seeds(relative, seed, config), **_health(relative, seed, config)}
