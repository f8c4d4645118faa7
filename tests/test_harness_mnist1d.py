"""The MNIST-1D harness: the official models' shapes and a quick smoke run (the full run is measured by hand)."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("mnist1d")

from trainlab.claims.harness.mnist1d import PUBLISHED, SETUP, build_model, mnist1d_harness  # noqa: E402


def test_models_match_the_official_parameter_counts_and_shapes():
    # LinearBase 410, MLPBase(hidden 100) 15,210, ConvBase(25 channels, linear_in 125) 5,210 parameters
    expected = {"logistic": 410, "mlp": 15210, "cnn": 5210}
    x = torch.randn(7, 40)
    for name, n in expected.items():
        model = build_model(name, seed=0)
        assert sum(p.numel() for p in model.parameters()) == n, name
        assert model(x).shape == (7, 10)


def test_build_model_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(9)
    before = torch.rand(3)
    torch.manual_seed(9)
    a, b, c = build_model("cnn", 1), build_model("cnn", 1), build_model("cnn", 2)
    assert torch.equal(torch.rand(3), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(next(a.parameters()), next(c.parameters()))
    with pytest.raises(ValueError, match="name"):
        build_model("gru", 0)


def test_quick_harness_returns_three_models_above_chance():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r = mnist1d_harness(0, quick=True)
    finally:
        torch.set_num_threads(threads)
    assert r["quick"] is True and r["steps"] == SETUP["quick_steps"] and r["seed"] == 0
    assert set(r["models"]) == set(PUBLISHED) == {"logistic", "mlp", "cnn"}
    for name, m in r["models"].items():
        assert math.isfinite(m["test_acc"]) and 10.0 < m["test_acc"] <= 100.0, (name, m["test_acc"])
        assert m["published"] == PUBLISHED[name] and m["gap"] == pytest.approx(m["test_acc"] - PUBLISHED[name])
        assert m["best_test_acc"] >= m["test_acc"] and m["curve"][-1] == (r["steps"], m["test_acc"])
    # even 300 steps order the models as the paper does
    assert r["models"]["logistic"]["test_acc"] < r["models"]["mlp"]["test_acc"] < r["models"]["cnn"]["test_acc"]


@pytest.mark.parametrize("seed", [-1, 1.0, True, "0"])
def test_bad_seed_refused(seed):
    with pytest.raises(ValueError, match="seed"):
        mnist1d_harness(seed, quick=True)
