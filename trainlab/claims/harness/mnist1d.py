"""MNIST-1D baselines (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024).

`mnist1d_harness(seed)` trains logistic regression, an MLP and a small CNN on the paper's fixed
MNIST-1D set (`trainlab.datasets.load("mnist1d", seed=0)`) and returns their test accuracies (%)
next to the published ones.

Set-up, as in the official repository (greydanus/mnist1d, notebooks/train.py `get_model_args` and
`train_model`, notebooks/models.py `LinearBase` / `MLPBase` / `ConvBase`, run as in
notebooks/mnist1d-classification.ipynb):

- models: logistic = Linear(40, 10) (410 parameters); MLP = Linear(40, 100) -> ReLU, then a residual
  block h + ReLU(Linear(100, 100) h), then Linear(100, 10) (15,210 parameters; the notebook leaves
  `hidden_size` at MLPBase's default 100, not get_model_args' 256); CNN = three Conv1d layers with
  25 channels (kernel 5 stride 2 padding 1, then kernel 3 stride 2 padding 1 twice), ReLU after
  each, flattened 25 x 5 -> Linear(125, 10) (5,210 parameters). PyTorch default initialisation.
- training: cross-entropy, Adam(lr=1e-2, weight_decay=0, default betas), batch size 100,
  `total_steps = 6000` with the loop running steps 0..6000 inclusive (6,001 updates); batches are
  consecutive slices of the training set in its stored order, wrapping around (no shuffling), so
  the only randomness is the initialisation, seeded with torch.manual_seed(seed) right before each
  model is built (the notebook uses seed 42 for every model).
- metric: test accuracy after the last update. The notebook also evaluates every 250 steps; the
  best of those is reported as `best_test_acc` (it is chosen on the test set, so it is an upper
  reading, not a held-out number).

Published (README table "Comparing MNIST and MNIST-1D", MNIST-1D row, and the arXiv v1 abstract
of 2011.14439: "32, 68, and 94% accuracy"): logistic 32%, MLP 68%, CNN 94%. The official code's own
results at step 6000 are below these headline numbers: the notebooks' saved outputs print logistic
31.5-31.7, MLP 64.6-65.1, CNN 92.3-92.5 (2020 and 2024 runs, see PUBLISHED_NOTEBOOK), and the paper's
2024 benchmark figure (notebooks/figures/benchmark.png) ends near 32 / 65 / 92. So the MLP's 68% is
about 3 points above what its own set-up gives; expect a faithful run to land there too.

Measured (3 seeds, full mode, one CPU thread, torch 2.13): logistic 31.6, MLP 65.6, CNN 93.6 (mean
of seeds 0-2; sd <= 0.2); seed 42 gives 31.7 / 65.1 / 93.1 against the 2024 notebook's 31.5 / 65.1 /
92.3. About 30-40 s per seed, most of it the CNN.

Deviations from the official code: data come from `load("mnist1d", seed=0)` (the package's
generator, float32; equal in float32 to the frozen mnist1d_data.pkl the notebook downloads) instead
of the pickle; the initialisation seed is the harness's `seed` instead of a fixed 42; the global
torch RNG is left as it was (the seeding happens in a forked RNG); no checkpoints are kept; evaluation
runs under no_grad. `quick=True` trains 300 steps (smoke test only, not comparable).

Run `python -m trainlab.claims.harness.mnist1d --seeds 0 1 2` for the table (single thread).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PUBLISHED", "PUBLISHED_NOTEBOOK", "SETUP", "mnist1d_harness", "build_model"]

PUBLISHED: dict[str, float] = {"logistic": 32.0, "mlp": 68.0, "cnn": 94.0}
"""Test accuracy (%) on MNIST-1D as published: README table of greydanus/mnist1d and arXiv:2011.14439v1 abstract."""

PUBLISHED_NOTEBOOK: dict[str, tuple[float, float]] = {"logistic": (31.7, 31.5), "mlp": (64.6, 65.1), "cnn": (92.5, 92.3)}
"""Test accuracy (%) at step 6000 printed in the official notebooks' saved outputs, seed 42:
(quickstart.ipynb, first commit 2020; notebooks/mnist1d-classification.ipynb, 2024)."""

SETUP: dict[str, Any] = {"lr": 1e-2, "weight_decay": 0.0, "batch_size": 100, "total_steps": 6000,
                         "eval_every": 250, "quick_steps": 300}


class _ResidualMLP(nn.Module):
    """40 -> 100 -> (h + ReLU(W h)) -> 10, as the official MLPBase."""

    def __init__(self, d_in: int = 40, hidden: int = 100, n_out: int = 10) -> None:
        super().__init__()
        self.inp = nn.Linear(d_in, hidden)
        self.mid = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, n_out)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.inp(x))
        h = h + F.relu(self.mid(h))
        return self.out(h)


class _SmallCNN(nn.Module):
    """Three strided Conv1d layers (25 channels) on the length-40 signal, then a linear read-out."""

    def __init__(self, channels: int = 25, n_out: int = 10, length: int = 40) -> None:
        super().__init__()
        self.convs = nn.ModuleList([
            nn.Conv1d(1, channels, 5, stride=2, padding=1),  # 40 -> 19
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),  # 19 -> 10
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),  # 10 -> 5
        ])
        n = length
        for conv in self.convs:
            n = (n + 2 * conv.padding[0] - conv.kernel_size[0]) // conv.stride[0] + 1
        self.head = nn.Linear(channels * n, n_out)

    def forward(self, x: Tensor) -> Tensor:
        h = x.reshape(len(x), 1, -1)
        for conv in self.convs:
            h = F.relu(conv(h))
        return self.head(h.flatten(1))


_BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "logistic": lambda: nn.Linear(40, 10),
    "mlp": _ResidualMLP,
    "cnn": _SmallCNN,
}


def build_model(name: str, seed: int) -> nn.Module:
    """One of "logistic", "mlp", "cnn", initialised from torch.manual_seed(seed) without touching the global RNG."""
    if name not in _BUILDERS:
        raise ValueError(f"name must be one of {', '.join(_BUILDERS)}, got {name!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _BUILDERS[name]()


@torch.no_grad()
def _accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    return 100.0 * (model(x).argmax(-1) == y).double().mean().item()


def _train(model: nn.Module, data: Any, steps: int) -> dict[str, Any]:
    x_tr, y_tr, x_te, y_te = data
    opt = torch.optim.Adam(model.parameters(), lr=SETUP["lr"], weight_decay=SETUP["weight_decay"])
    bs, n, every = SETUP["batch_size"], len(x_tr), min(SETUP["eval_every"], steps)
    curve: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    for step in range(steps + 1):  # steps + 1 updates, as the official loop
        start = (step * bs) % n
        xb, yb = x_tr[start:start + bs], y_tr[start:start + bs]
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % every == 0:
            curve.append((step, _accuracy(model, x_te, y_te)))
    if curve[-1][0] != steps:
        curve.append((steps, _accuracy(model, x_te, y_te)))
    return {"test_acc": curve[-1][1], "best_test_acc": max(a for _, a in curve),
            "train_acc": _accuracy(model, x_tr, y_tr), "final_loss": loss.item(), "curve": curve,
            "n_params": sum(p.numel() for p in model.parameters()), "wall_s": time.perf_counter() - t0}


def mnist1d_harness(seed: int, quick: bool = False) -> dict:
    """Train logistic regression, the MLP and the CNN of the MNIST-1D paper; test accuracies vs published.

    Args:
        seed: initialisation seed (torch.manual_seed before each model; 42 is the official notebook's).
            The data are always the paper's fixed set; batches come in stored order, so nothing else is random.
        quick: train SETUP["quick_steps"] steps instead of 6000 (a smoke test; not comparable to the paper).

    Returns:
        {"seed", "quick", "steps", "wall_s", "models": {name: {"test_acc", "published", "gap",
        "best_test_acc", "train_acc", "final_loss", "curve", "n_params", "wall_s"}}} with accuracies in %
        and gap = test_acc - published.

    Example:
        >>> r = mnist1d_harness(0, quick=True)  # doctest: +SKIP
        >>> {k: round(v["test_acc"], 1) for k, v in r["models"].items()}  # doctest: +SKIP
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    from trainlab.datasets import load

    t0 = time.perf_counter()
    data = load("mnist1d", seed=0)
    steps = SETUP["quick_steps"] if quick else SETUP["total_steps"]
    models: dict[str, dict[str, Any]] = {}
    for name in _BUILDERS:
        res = _train(build_model(name, seed), data, steps)
        acc = res.pop("test_acc")
        models[name] = {"test_acc": acc, "published": PUBLISHED[name], "gap": acc - PUBLISHED[name], **res}
    return {"seed": seed, "quick": bool(quick), "steps": steps, "wall_s": time.perf_counter() - t0, "models": models}


def _table(results: list[dict]) -> str:
    names = list(_BUILDERS)
    rows = [f"| seed | {' | '.join(names)} | best-of-evals ({', '.join(names)}) | wall s |",
            "|" + "---|" * (len(names) + 3)]
    for r in results:
        m = r["models"]
        rows.append(f"| {r['seed']} | " + " | ".join(f"{m[k]['test_acc']:.1f}" for k in names)
                    + " | " + ", ".join(f"{m[k]['best_test_acc']:.1f}" for k in names) + f" | {r['wall_s']:.1f} |")
    mean = {k: sum(r["models"][k]["test_acc"] for r in results) / len(results) for k in names}
    sd = {k: math.sqrt(sum((r["models"][k]["test_acc"] - mean[k]) ** 2 for r in results) / max(len(results) - 1, 1))
          for k in names}
    rows.append("| mean ± sd | " + " | ".join(f"{mean[k]:.1f} ± {sd[k]:.1f}" for k in names) + " | | |")
    rows.append("| published | " + " | ".join(f"{PUBLISHED[k]:.0f}" for k in names) + " | | |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="MNIST-1D baselines vs the paper's published accuracies.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    ns = parser.parse_args(argv)
    torch.set_num_threads(ns.threads)
    results = []
    for s in ns.seeds:
        r = mnist1d_harness(s, quick=ns.quick)
        per = ", ".join(f"{k} {v['test_acc']:.1f}% ({v['wall_s']:.1f}s)" for k, v in r["models"].items())
        print(f"seed {s}: {per}; total {r['wall_s']:.1f}s", flush=True)
        results.append(r)
    print(_table(results))


if __name__ == "__main__":
    main()
