"""Reference tests of U-DoG and SPAM: plain per-tensor loops written from the update rules are the oracles."""

from __future__ import annotations

import io
import math

import pytest
import torch

from trainlab.optim.spam import spam, spam_warmup_scale
from trainlab.optim.udog import UDoG, udog


def _problem(seed: int = 0):
    """Least squares with two parameter tensors (a 3x4 matrix and a bias of 3) and minibatch noise."""
    g = torch.Generator().manual_seed(seed)
    W0 = torch.randn(3, 4, generator=g, dtype=torch.float64)
    b0 = torch.randn(3, generator=g, dtype=torch.float64)
    X = torch.randn(100, 4, generator=g, dtype=torch.float64)
    Y = X @ torch.randn(4, 3, generator=g, dtype=torch.float64) + 0.1 * torch.randn(100, 3, generator=g, dtype=torch.float64)
    batches = [torch.randint(0, 100, (16,), generator=g) for _ in range(200)]
    return W0, b0, X, Y, batches


def _grads(W, b, X, Y, idx):
    W = W.detach().requires_grad_(True)
    b = b.detach().requires_grad_(True)
    ((X[idx] @ W.T + b - Y[idx]) ** 2).mean().backward()
    return W.grad, b.grad


# ----------------------------------------------------------------------------------------------- U-DoG


def udog_oracle(W0, b0, X, Y, batches, steps, reps_rel, alpha_const, wd, eps=1e-8):
    """U-DoG written as a plain loop over the two tensors, from the formulas in `UDoG`'s docstring."""
    xbar = [W0.clone(), b0.clone()]
    x0 = [t.clone() for t in xbar]
    y = [t.clone() for t in xbar]
    norm = lambda ts: math.sqrt(sum(float((t * t).sum()) for t in ts))  # noqa: E731
    rbar = reps_rel * (1 + norm(x0))
    R, A, G = rbar, 0.0, eps
    for t in range(steps):
        idx = batches[t]
        alpha = max(1.0, alpha_const * R / rbar)
        A += alpha
        w = alpha / A
        xt = [xb + w * (yy - xb) for xb, yy in zip(xbar, y)]
        m = [gi + wd * xi for gi, xi in zip(_grads(*xt, X, Y, idx), xt)]
        G += alpha**2 * norm(m) ** 2  # Gx_t
        x = [yy - alpha * rbar / math.sqrt(G) * mi for yy, mi in zip(y, m)]
        xbar = [xb + w * (xi - xb) for xb, xi in zip(xbar, x)]
        g = [gi + wd * xi for gi, xi in zip(_grads(*xbar, X, Y, idx), xbar)]
        G += alpha**2 * norm(g) ** 2  # Gy_t
        y = [yy - alpha * rbar / math.sqrt(G) * gi for yy, gi in zip(y, g)]
        rbar = max(rbar, norm([a - b for a, b in zip(x, x0)]), norm([a - b for a, b in zip(y, x0)]))
        R += rbar
    return xbar


def run_udog(opt_factory, W0, b0, X, Y, batches, steps, **kw):
    W, b = torch.nn.Parameter(W0.clone()), torch.nn.Parameter(b0.clone())
    opt = opt_factory([W, b], **kw)
    for t in range(steps):
        idx = batches[t]

        def closure():
            opt.zero_grad()
            loss = ((X[idx] @ W.T + b - Y[idx]) ** 2).mean()
            loss.backward()
            return loss

        opt.step(closure)
    return [W.detach(), b.detach()], opt


@pytest.mark.parametrize("reps_rel,alpha_const,wd", [(1e-6, 0.5, 0.0), (1e-2, 0.5, 0.01), (1e-4, 1.0, 0.0)])
def test_udog_matches_plain_loop_over_100_steps(reps_rel, alpha_const, wd):
    W0, b0, X, Y, batches = _problem()
    got, _ = run_udog(udog, W0, b0, X, Y, batches, 100, reps_rel=reps_rel, alpha_const=alpha_const, weight_decay=wd)
    want = udog_oracle(W0, b0, X, Y, batches, 100, reps_rel, alpha_const, wd)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert (got[0] - W0).abs().max() > 0.1  # it moved (the test can fail)


def test_udog_first_step_moves_exactly_r_eps():
    W0, b0, X, Y, batches = _problem(1)
    got, opt = run_udog(udog, W0, b0, X, Y, batches, 1, reps_rel=1e-3, eps=0.0)
    r_eps = 1e-3 * (1 + math.sqrt(float((W0**2).sum() + (b0**2).sum())))
    moved = math.sqrt(float(((got[0] - W0) ** 2).sum() + ((got[1] - b0) ** 2).sum()))
    assert moved == pytest.approx(r_eps, rel=1e-12)  # alpha_1 = 1, xbar_1 = x_1 = x0 - r_eps m / ||m||


def test_udog_state_dict_round_trip_continues_bit_identically():
    W0, b0, X, Y, batches = _problem(2)
    ref, opt = run_udog(udog, W0, b0, X, Y, batches, 10)
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    W, b = torch.nn.Parameter(ref[0].clone()), torch.nn.Parameter(ref[1].clone())
    fresh = UDoG([W, b])
    buf.seek(0)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    Wr, br = opt.param_groups[0]["params"]
    for o, (pw, pb) in ((opt, (Wr, br)), (fresh, (W, b))):
        for t in range(10, 20):
            idx = batches[t]

            def closure(o=o, pw=pw, pb=pb, idx=idx):
                o.zero_grad()
                loss = ((X[idx] @ pw.T + pb - Y[idx]) ** 2).mean()
                loss.backward()
                return loss

            o.step(closure)
    assert torch.equal(W, Wr) and torch.equal(b, br)


def test_udog_requires_a_closure_and_validates():
    w = torch.nn.Parameter(torch.ones(3))
    with pytest.raises(ValueError, match="closure"):
        udog([w]).step()
    with pytest.raises(ValueError, match="alpha_const"):
        udog([w], alpha_const=0.0)
    with pytest.raises(ValueError, match="reps_rel"):
        udog([w], reps_rel=-1.0)


def test_udog_nonfinite_second_gradient_restores_params():
    w = torch.nn.Parameter(torch.ones(3))
    opt = udog([w])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        w.grad = torch.tensor([1.0, 2.0, 3.0]) if len(calls) == 1 else torch.tensor([math.nan, 0.0, 0.0])
        return 0.0

    with pytest.raises(FloatingPointError):
        opt.step(closure)
    assert torch.equal(w.detach(), torch.ones(3)) and len(opt.state[w]) == 0


def test_udog_parameter_losing_its_gradient_takes_part_with_zero_gradient():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = udog([a, b], reps_rel=0.1)
    opt.step(lambda: (opt.zero_grad(), (a.sum() + 2 * b.sum()).backward()))
    y_b = opt.state[b]["y"].clone()
    opt.step(lambda: (opt.zero_grad(), a.sum().backward()))
    assert torch.equal(opt.state[b]["y"], y_b)  # y_b - step * 0
    assert all(torch.equal(opt.state[a][k], opt.state[b][k]) for k in ("A", "rbar", "rsum", "G", "step"))


# ------------------------------------------------------------------------------------------------ SPAM


def spam_oracle(W0, b0, X, Y, batches, steps, spikes, *, lr, betas, eps, wd, warmup, thres, delta, accu):
    """The official SPAM step (TianjinYellow/SPAM-Optimizer, galore_torch/SPAM.py) as a plain loop with its
    global counters `total_step` / `current_step` and its closed-form cosine warm-up."""
    b1, b2 = betas
    params = [W0.clone(), b0.clone()]
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    total, current = 0, warmup + 1

    def death_rate(k):
        return 0.0 if k >= warmup else 0.99 * (1 + math.cos(math.pi * k / (warmup + 1))) / 2

    for t in range(steps):
        grads = [gi * spikes[t] for gi in _grads(*params, X, Y, batches[t])]
        scale = 1 - death_rate(current)
        step = total + 1
        for i, (p, g) in enumerate(zip(params, grads)):
            if (total + 1) % delta == 0:
                m[i], v[i] = torch.zeros_like(p), torch.zeros_like(p)
            g = g.clone()
            if thres != 0 and total + 1 >= accu and (total + 1) % delta >= accu:
                mask = g**2 > thres * v[i]
                g[mask] = g[mask].sign() * torch.sqrt(v[i][mask] * thres)
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            step_size = lr * math.sqrt(1 - b2**step) / (1 - b1**step)
            p = p - step_size * scale * m[i] / (v[i].sqrt() + eps)
            params[i] = p - lr * wd * p
        total += 1
        current += 1
        if (total + 1) % delta == 0:
            current = 0
    return params


def test_spam_matches_official_loop_with_spikes_and_resets():
    W0, b0, X, Y, batches = _problem(3)
    steps = 130
    spikes = [100.0 if t % 17 == 16 else 1.0 for t in range(steps)]  # injected gradient spikes
    cfg = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-6, wd=0.1, warmup=10, thres=5.0, delta=25, accu=5)
    W, b = torch.nn.Parameter(W0.clone()), torch.nn.Parameter(b0.clone())
    opt = spam([W, b], lr=cfg["lr"], betas=cfg["betas"], eps=cfg["eps"], weight_decay=cfg["wd"],
               warmup_steps=cfg["warmup"], threshold=cfg["thres"], DeltaT=cfg["delta"], grad_accu_steps=cfg["accu"])
    for t in range(steps):
        opt.zero_grad()
        (((X[batches[t]] @ W.T + b - Y[batches[t]]) ** 2).mean() * spikes[t]).backward()
        opt.step()
    want = spam_oracle(W0, b0, X, Y, batches, steps, spikes, **cfg)
    torch.testing.assert_close(W.detach(), want[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(b.detach(), want[1], atol=1e-6, rtol=0)
    # without clipping the trajectory is different: the spikes were really clipped
    want_noclip = spam_oracle(W0, b0, X, Y, batches, steps, spikes, **dict(cfg, thres=0.0))
    assert (want_noclip[0] - want[0]).abs().max() > 1e-3


def test_spam_warmup_scale_hand_values():
    assert spam_warmup_scale(1, 500, 150) == 1.0 and spam_warmup_scale(499, 500, 150) == 1.0
    assert spam_warmup_scale(500, 500, 150) == pytest.approx(0.01)  # right after the reset: 1 - 0.99
    assert spam_warmup_scale(500 + 151 // 2, 500, 150) == pytest.approx(1 - 0.99 * 0.5 * (1 + math.cos(math.pi * 75 / 151)))
    assert spam_warmup_scale(650, 500, 150) == 1.0  # k = W: warm-up over
    assert spam_warmup_scale(1, 1, 3) == 1.0 and spam_warmup_scale(2, 1, 3) == pytest.approx(0.01)


def test_spam_defaults_and_bad_input():
    w = torch.nn.Parameter(torch.ones(3))
    g = spam([w]).param_groups[0]
    assert (g["lr"], g["eps"], g["warmup_steps"], g["threshold"], g["DeltaT"], g["grad_accu_steps"]) == (
        1e-3, 1e-6, 150, 5000, 500, 20)
    for key, bad in (("DeltaT", 0), ("threshold", -1.0), ("warmup_steps", 1.5), ("grad_accu_steps", -2)):
        with pytest.raises(ValueError, match=key):
            spam([w], **{key: bad})
