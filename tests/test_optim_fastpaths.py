"""Size-dependent eager paths of the transforms give the same trajectory as the small-tensor path.

Transforms treat tensors above `deferred.SMALL_NUMEL` elements differently (reused scratch buffers,
per-tensor ops instead of foreach calls); the reference tests use small models, so they only see the
small path. Here every registered optimizer runs twice on the same model and gradients: once as usual
and once with the threshold at 0, so that every tensor takes the large path. Scratch buffers are reused
across the 30 steps, so stale contents would show up as a difference.
"""

from __future__ import annotations

import pytest
import torch

import trainlab
from trainlab.optim.base import all_finite
from trainlab.optim import deferred

STEPS = 30
OPTIMIZERS = [i.name for i in trainlab.list(kind="optimizer")]


def run(name: str) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3))
    info = trainlab.get(name)
    kw = {"weight_decay": 0.01} if "weight_decay" in info.defaults else {}
    opt = trainlab.create(name, model.parameters(), **kw)
    gen = torch.Generator().manual_seed(1)
    for _ in range(STEPS):
        x, y = torch.randn(16, 5, generator=gen), torch.randn(16, 3, generator=gen)

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            return loss

        if "needs_closure" in info.flags:
            opt.step(closure)
        else:
            closure()
            opt.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_large_tensor_path_matches_small_tensor_path(name, monkeypatch):
    small = run(name)
    monkeypatch.setattr(deferred, "SMALL_NUMEL", 0)
    large = run(name)
    for a, b in zip(small, large):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)


def test_all_finite_finds_nan_and_inf_and_survives_norm_overflow():
    grads = [torch.randn(64, 64) for _ in range(5)] + [torch.randn(7, dtype=torch.float64), torch.randn(3).half()]
    assert all_finite(grads)
    for bad in (float("nan"), float("inf"), float("-inf")):
        for i in (2, 5, 6):
            g = [t.clone() for t in grads]
            g[i].view(-1)[1] = bad
            assert not all_finite(g), (bad, i)
    # finite values whose 2-norm overflows float32 (and float16 at 65504) are still finite
    assert all_finite([torch.full((10,), 3e38), torch.full((4,), 60000.0).half(), torch.zeros(0)])


def test_deferred_materialize_and_apply_match_the_formed_update():
    from trainlab.optim.deferred import Deferred

    g = torch.Generator().manual_seed(0)
    a = [torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(70000, generator=g, dtype=torch.float64)]
    b = [torch.rand(3, 4, generator=g, dtype=torch.float64) + 0.5, torch.rand(70000, generator=g, dtype=torch.float64) + 0.5]
    for op, want in (("div", [x / y for x, y in zip(a, b)]), ("mul", [x * y for x, y in zip(a, b)])):
        for scratch in ("a", "b"):
            ca, cb = [x.clone() for x in a], [y.clone() for y in b]
            got = Deferred(op, ca, cb, scratch=scratch).materialize()
            for u, w in zip(got, want):
                torch.testing.assert_close(u, w, rtol=1e-15, atol=0)
            kept = ca if scratch == "b" else cb  # the non-scratch operand (optimizer state) is never written
            assert all(torch.equal(k, o) for k, o in zip(kept, a if scratch == "b" else b))
            params = [torch.ones_like(x) for x in a]
            Deferred(op, [x.clone() for x in a], [y.clone() for y in b], scratch=scratch).apply_(params, 0.5)
            for p, w in zip(params, want):
                torch.testing.assert_close(p, 1 - 0.5 * w, rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="op must be"):
        Deferred("sub", a, b, scratch="a")


def test_chain_applies_a_deferred_update_only_through_passing_transforms():
    from trainlab.optim.base import Chain
    from trainlab.optim.transforms import AddDecayedWeights, ScaleByAdam

    # shrink_params (or wd == 0) passes the deferred m / denom to the chain; shrink_params=False with
    # wd > 0 needs u itself; both orders must give AdamW's trajectory to rounding (float64)
    results = []
    for shrink in (True, False):
        torch.manual_seed(0)
        w = torch.nn.Parameter(torch.randn(6, dtype=torch.float64))
        opt = Chain([w], [ScaleByAdam(), AddDecayedWeights(0.1, shrink_params=shrink)], lr=0.05)
        for k in range(30):
            w.grad = torch.sin(w.detach() * (k + 1))
            opt.step()
        results.append(w.detach().clone())
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(6, dtype=torch.float64))
    ref = torch.optim.AdamW([w], lr=0.05, weight_decay=0.1)
    for k in range(30):
        w.grad = torch.sin(w.detach() * (k + 1))
        ref.step()
    torch.testing.assert_close(results[0], w.detach(), rtol=0, atol=1e-12)
    torch.testing.assert_close(results[1], w.detach(), rtol=0, atol=1e-12)


def test_step_counters_stay_per_parameter_with_missing_gradients_and_reloads():
    import io

    from trainlab.optim.base import Chain
    from trainlab.optim.transforms import ScaleByAdam

    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    opt = Chain([a, b], [ScaleByAdam()], lr=0.1)

    def step(grad_a=True, grad_b=True):
        a.grad = torch.ones(3) if grad_a else None
        b.grad = torch.ones(2) if grad_b else None
        opt.step()

    def counts(o=None):
        o = o or opt
        return int(o.state[a]["step"]), int(o.state[b]["step"])

    step(), step()
    assert counts() == (2, 2)
    step(grad_b=False)  # b has no gradient: its counter must not move although it shares a buffer
    assert counts() == (3, 2)
    step(), step(grad_a=False), step()
    assert counts() == (5, 5)
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    opt2 = Chain([a, b], [ScaleByAdam()], lr=0.1)
    opt2.load_state_dict(torch.load(buf, weights_only=True))
    assert counts(opt2) == (5, 5)
    opt = opt2
    step(), step(grad_a=False)
    assert counts() == (6, 7)
    opt.state[a]["step"] = torch.tensor(10.0)  # replaced by hand: honoured
    step()
    assert counts() == (11, 8)
