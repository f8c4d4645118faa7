"""Reference tests: Adam-family optimizers against plain per-tensor loops written from the papers / official code."""

from __future__ import annotations

import math

import pytest
import torch

import trainlab
from trainlab.optim.adaptive import adabound, adamomentum, amsgrad, exadam, grams, optimistic_amsgrad
from trainlab.optim.spam import stable_spam
from trainlab.optim.base import Chain
from trainlab.optim.transforms.moments import ScaleByAdam
from trainlab.optim.transforms.spikes import MomentumReset, SpikeClip


TOL = 1e-9  # the brief asks for 1e-6; in float64 the trajectories agree to ~1e-14


def mlp():
    torch.manual_seed(0)
    # float64, so that rounding-order differences (~1e-16) cannot hide or fake a 1e-6 discrepancy
    return torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3)).double()


def run(model, step_fn, steps, seed=1, spikes=()):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 10, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=g)
    for k in range(steps):
        for p in model.parameters():
            p.grad = None
        scale = 1000.0 if k in spikes else 1.0
        (scale * torch.nn.functional.cross_entropy(model(x), y)).backward()
        step_fn()
    return [p.detach().clone() for p in model.parameters()]


def max_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b))


def oracle(params, body):
    """Plain loop: `body(p, g, state, t)` updates p in place; state starts empty per tensor."""
    states = {p: {} for p in params}

    def step():
        with torch.no_grad():
            for p in params:
                s = states[p]
                s["t"] = s.get("t", 0) + 1
                body(p, p.grad.clone(), s, s["t"])

    return step


def z(s, key, p):
    if key not in s:
        s[key] = torch.zeros_like(p)
    return s[key]


def compare(opt_factory, body, steps=150, **kw):
    m1, m2 = mlp(), mlp()
    o1 = opt_factory(m1.parameters())
    step2 = oracle(list(m2.parameters()), body)
    return max_diff(run(m1, o1.step, steps, **kw), run(m2, step2, steps, **kw))


@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_amsgrad_matches_plain_loop(wd):
    lr, b1, b2, eps = 1e-2, 0.9, 0.99, 1e-8

    def body(p, g, s, t):
        g = g + wd * p  # torch Adam: coupled L2
        m, v, vmax = z(s, "m", p), z(s, "v", p), z(s, "vmax", p)
        m.mul_(b1).add_((1 - b1) * g)
        v.mul_(b2).add_((1 - b2) * g * g)
        torch.maximum(vmax, v, out=vmax)
        p -= lr * (m / (1 - b1**t)) / (vmax.sqrt() / math.sqrt(1 - b2**t) + eps)

    assert compare(lambda ps: amsgrad(ps, lr=lr, betas=(b1, b2), weight_decay=wd), body) < TOL


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_grams_matches_algorithm_1(wd):
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-6

    def body(p, g, s, t):
        m, v = z(s, "m", p), z(s, "v", p)
        m.copy_(b1 * m + (1 - b1) * g)
        v.copy_(b2 * v + (1 - b2) * g * g)
        u = (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)
        p -= lr * (torch.sign(g) * u.abs() + wd * p)

    assert compare(lambda ps: grams(ps, lr=lr, weight_decay=wd), body) < TOL


def test_grams_equals_adam_when_gradient_and_momentum_agree_in_sign():
    # float64: Grams forms u and adds it, the Adam chain applies m / denom with one addcdiv_; the two
    # orders round differently (an ulp), which float32 at |w| ~ 3 would show above 1e-7
    w1, w2 = torch.nn.Parameter(torch.ones(5, dtype=torch.float64)), torch.nn.Parameter(torch.ones(5, dtype=torch.float64))
    o1, o2 = grams([w1], lr=0.1), Chain([w2], [ScaleByAdam(eps=1e-6)], lr=0.1)
    direction = torch.tensor([1.0, -2.0, 3.0, -0.5, 0.1], dtype=torch.float64)
    for k in range(20):  # gradients keep their signs, so sign(m) == sign(g) throughout
        w1.grad = direction * (1 + 0.1 * k)
        w2.grad = w1.grad.clone()
        o1.step()
        o2.step()
    assert torch.allclose(w1, w2, atol=1e-12, rtol=0) and not torch.equal(w1.detach(), torch.ones(5, dtype=torch.float64))


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_exadam_matches_official_update(wd):
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8

    def body(p, g, s, t):
        p -= lr * wd * p  # official: decoupled decay first
        m, v = z(s, "m", p), z(s, "v", p)
        m.copy_(b1 * m + (1 - b1) * g)
        v.copy_(b2 * v + (1 - b2) * g * g)
        d1 = 1 + v / (v + eps) * b2**t
        d2 = 1 + m**2 / (m**2 + eps) * b1**t
        m_t, v_t, g_t = m / (1 - b1**t) * d1, v / (1 - b2**t) * d2, g / (1 - b1**t) * d1
        p -= lr * (m_t + g_t) / (v_t.sqrt() + eps)

    assert compare(lambda ps: exadam(ps, lr=lr, weight_decay=wd), body) < TOL


@pytest.mark.parametrize("amsbound", [False, True])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_adabound_matches_official_update(amsbound, wd):
    lr, b1, b2, final_lr, gamma, eps = 1e-2, 0.9, 0.999, 0.05, 0.01, 1e-8

    def body(p, g, s, t):
        g = g + wd * p
        m, v, vmax = z(s, "m", p), z(s, "v", p), z(s, "vmax", p)
        m.copy_(b1 * m + (1 - b1) * g)
        v.copy_(b2 * v + (1 - b2) * g * g)
        vmax.copy_(torch.maximum(vmax, v))
        denom = (vmax if amsbound else v).sqrt() + eps
        step = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        lo, hi = final_lr * (1 - 1 / (gamma * t + 1)), final_lr * (1 + 1 / (gamma * t))
        p -= (step / denom).clamp(lo, hi) * m

    def make(ps):
        return adabound(ps, lr=lr, final_lr=final_lr, gamma=gamma, weight_decay=wd, amsbound=amsbound)

    assert compare(make, body, steps=200) < TOL


def test_adabound_warmup_from_zero_lr_matches_official_update():
    # a linear warm-up starting at lr = 0: the official code still advances the moments at lr = 0 (its bounds
    # f = final_lr * lr / lr0 are 0 there, so the step is 0), and later steps see those moments
    lr0, b1, b2, final_lr, gamma, eps, warm = 1e-2, 0.9, 0.999, 0.05, 0.01, 1e-8, 4

    def lr_at(t):  # LambdaLR(lambda k: min(1, k / warm)) before step t = k + 1
        return lr0 * min(1.0, (t - 1) / warm)

    def body(p, g, s, t):
        m, v = z(s, "m", p), z(s, "v", p)
        m.copy_(b1 * m + (1 - b1) * g)
        v.copy_(b2 * v + (1 - b2) * g * g)
        lr = lr_at(t)
        f = final_lr * lr / lr0
        lo, hi = f * (1 - 1 / (gamma * t + 1)), f * (1 + 1 / (gamma * t))
        p -= (lr * math.sqrt(1 - b2**t) / (1 - b1**t) / (v.sqrt() + eps)).clamp(lo, hi) * m

    m1, m2 = mlp(), mlp()
    opt = adabound(m1.parameters(), lr=lr0, final_lr=final_lr, gamma=gamma)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min(1.0, k / warm))

    def step1():
        opt.step()
        sched.step()

    assert max_diff(run(m1, step1, 40), run(m2, oracle(list(m2.parameters()), body), 40)) < TOL


def test_adabound_effective_step_stays_in_bounds_and_follows_lr_schedule():
    w = torch.nn.Parameter(torch.zeros(4))
    opt = trainlab.create("amsbound", [w], lr=1e-2, final_lr=0.1, gamma=0.1)
    assert opt.param_groups[0]["base_lr"] == 1e-2
    for t in range(1, 60):
        w.grad = torch.tensor([1e-4, 1.0, 1e3, -5.0])
        before = w.detach().clone()
        opt.step()
        m = opt.state[w]["1.scale_by_adabound"]["exp_avg"]
        eta = (before - w.detach()) / m
        lo, hi = 0.1 * (1 - 1 / (0.1 * t + 1)), 0.1 * (1 + 1 / (0.1 * t))
        assert bool((eta >= lo * (1 - 1e-5)).all() and (eta <= hi * (1 + 1e-5)).all())
    assert eta.sub(0.1).abs().max().item() < 0.02  # converging to final_lr


def test_optimistic_amsgrad_matches_two_sequence_algorithm():
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8

    def body(p, g, s, t):
        m, v, vmax = z(s, "m", p), z(s, "v", p), z(s, "vmax", p)
        if "w_half" not in s:
            s["w_half"] = p.clone()  # w_{1/2} = w_1
        m.copy_(b1 * m + (1 - b1) * g)
        v.copy_(b2 * v + (1 - b2) * g * g)
        vmax.copy_(torch.maximum(vmax, v))
        s["w_half"] = s["w_half"] - lr * m / (vmax.sqrt() + eps)
        h = b1 * m + (1 - b1) * g  # guess g_{t+1} = g_t
        p.copy_(s["w_half"] - lr * h / (vmax.sqrt() + eps))

    assert compare(lambda ps: optimistic_amsgrad(ps, lr=lr), body) < TOL


def rmpe(xs, lam):
    """Regularised minimal polynomial extrapolation (Scieur et al.) of vectors xs[0..r], by hand in float64."""
    x = torch.stack(xs).double()
    u = (x[1:] - x[:-1]).T  # (d, r): columns x_{j+1} - x_j
    gram = u.T @ u
    lam_abs = lam * torch.linalg.eigvalsh(gram).max()
    z = torch.linalg.solve(gram + lam_abs * torch.eye(len(xs) - 1, dtype=torch.float64), torch.ones(len(xs) - 1,
                                                                                                    dtype=torch.float64))
    c = z / z.sum()
    return (c[:, None] * x[:-1]).sum(0)


@pytest.mark.parametrize("r", [2, 4])
def test_optimistic_amsgrad_multi_gradient_extrapolation_matches_paper_loop(r):
    lr, b1, b2, eps, lam = 1e-2, 0.9, 0.999, 1e-8, 1e-3
    m1, m2 = mlp(), mlp()
    opt = optimistic_amsgrad(m1.parameters(), lr=lr, extrapolation_r=r, extrapolation_reg=lam)
    params = list(m2.parameters())
    n = sum(p.numel() for p in params)
    th, v, vmax = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    w_half, history = torch.cat([p.detach().reshape(-1) for p in params]), []

    def paper_step():  # the whole parameter vector, as in the paper
        nonlocal w_half
        g = torch.cat([p.grad.reshape(-1) for p in params])
        history.append(g.clone())
        th.copy_(b1 * th + (1 - b1) * g)
        v.copy_(b2 * v + (1 - b2) * g * g)
        vmax.copy_(torch.maximum(vmax, v))
        w_half = w_half - lr * th / (vmax.sqrt() + eps)
        guess = rmpe(history[-(r + 1):], lam) if len(history) > r else g
        w = w_half - lr * (b1 * th + (1 - b1) * guess) / (vmax.sqrt() + eps)
        with torch.no_grad():
            off = 0
            for p in params:
                p.copy_(w[off:off + p.numel()].view_as(p))
                off += p.numel()

    a = run(m1, opt.step, 120)
    b = run(m2, paper_step, 120)
    assert max_diff(a, b) < 1e-6
    # r = 0 keeps the one-gradient guess, and a longer history changes the trajectory
    m3 = mlp()
    c = run(m3, optimistic_amsgrad(m3.parameters(), lr=lr).step, 120)
    assert max_diff(a, c) > 1e-6


def test_optimistic_amsgrad_extrapolation_recovers_a_geometric_limit():
    """Gradients converging geometrically, g_t = g* + q^t e: RMPE with r = 2 predicts the limit g*.

    With c_0 + c_1 = 1 minimising ||c_0 (x_1 - x_0) + c_1 (x_2 - x_1)||: c = (-q, 1) / (1 - q), so
    c_0 x_0 + c_1 x_1 = g* exactly (up to the tiny regularisation).
    """
    from trainlab.optim.transforms.adaptive import ScaleByOptimisticAMSGrad

    tr = ScaleByOptimisticAMSGrad(extrapolation_r=2, extrapolation_reg=1e-12)
    w = torch.zeros(3, dtype=torch.float64)
    (state,) = tr.init([w])
    g_star, e = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), torch.tensor([0.3, 0.1, -0.2], dtype=torch.float64)
    for t in (1, 2, 3):
        guess = tr._guesses([g_star + 0.5**t * e], [state], [t])[0]
    assert (guess - g_star).abs().max().item() < 1e-9
    assert (g_star + 0.5**3 * e - g_star).abs().max().item() > 0.01  # the last gradient is a worse guess
    with pytest.raises(ValueError, match="extrapolation_r"):
        ScaleByOptimisticAMSGrad(extrapolation_r=-1)


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adamomentum_matches_algorithm_1(wd):
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8

    def body(p, g, s, t):
        p.mul_(1 - lr * wd)
        m, v = z(s, "m", p), z(s, "v", p)
        m.copy_(b1 * m + (1 - b1) * g)
        v.copy_(b2 * v + (1 - b2) * m * m + eps)
        p -= lr * (m / (1 - b1**t)) / (v / (1 - b2**t)).sqrt()

    assert compare(lambda ps: adamomentum(ps, lr=lr, weight_decay=wd), body) < TOL


def stable_spam_body(lr, b1, b2, gamma1, gamma2, theta, gap, eps, wd):
    def body(p, g, s, t):
        p.mul_(1 - lr * wd)
        mmax = z(s, "mmax", p.new_zeros(()))
        a = g.abs().max()
        mmax.copy_(theta * mmax + (1 - theta) * a)
        m_hat = mmax / (1 - theta**t)
        g = torch.where(g.abs() > m_hat, g / a * m_hat, g)
        n = g.norm()
        mn, vn = z(s, "mn", p.new_zeros(())), z(s, "vn", p.new_zeros(()))
        mn.copy_(gamma1 * mn + (1 - gamma1) * n)
        vn.copy_(gamma2 * vn + (1 - gamma2) * n * n)
        g = g / n * (mn / (1 - gamma1**t)) / ((vn / (1 - gamma2**t)).sqrt() + eps)
        if t % gap == 0:
            s["m"], s["v"] = torch.zeros_like(p), torch.zeros_like(p)
        k = t if t < gap else t % gap + 1  # step count since the last reset
        m, v = z(s, "m", p), z(s, "v", p)
        m.copy_(b1 * m + (1 - b1) * g)
        v.copy_(b2 * v + (1 - b2) * g * g)
        p -= lr / (1 - b1**k) * m / (v.sqrt() / math.sqrt(1 - b2**k) + eps)

    return body


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_stable_spam_transforms_match_reset_before_update_loop(wd):
    """The transforms' defaults: reset before the update, plain step count (pytorch-optimizer's convention)."""
    from trainlab.optim.transforms.decay import AddDecayedWeights
    from trainlab.optim.transforms.spikes import AdaptiveGradNorm

    kw = dict(lr=1e-3, b1=0.9, b2=0.999, gamma1=0.7, gamma2=0.9, theta=0.999, gap=40, eps=1e-8, wd=wd)

    def make(ps):
        chain = [SpikeClip(0.999), AdaptiveGradNorm(0.7, 0.9, 1e-8), MomentumReset(ScaleByAdam(), 40),
                 AddDecayedWeights(wd, shrink_params=True)]
        return Chain(ps, chain, lr=1e-3)

    assert compare(make, stable_spam_body(**kw), steps=130, spikes=(10, 55, 90)) < TOL


def official_stable_spam_body(lr, betas, gamma1, gamma2, theta, gap, eps, wd, total_T=None, eta_min=0.5):
    """Plain loop read from the official stablespam.py (one parameter; its `step` counter restarts at resets)."""
    b1, b2 = betas

    def body(p, g, s, t):
        scale = 1.0
        if total_T is not None:  # CosineAnnealingLR(T_max=total_T + 1) from 1 to eta_min, closed form
            scale = eta_min + (1 - eta_min) * (1 + math.cos(math.pi * t / (total_T + 1))) / 2
        p.mul_(1 - lr * wd)
        if "m" not in s:
            s.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p), mmax=0.0, mn=0.0, vn=0.0)
        m, v = s["m"], s["v"]  # bound before the reset, as officially
        s["step"] += 1
        a = g.abs().max()
        s["mmax"] = theta * s["mmax"] + (1 - theta) * a
        m_hat = s["mmax"] / (1 - theta ** s["step"])
        mask = g.abs() > m_hat
        if mask.sum() > 0:
            g[mask] = g[mask] / a * m_hat
        n = torch.norm(g)
        s["mn"] = gamma1 * scale * s["mn"] + (1 - gamma1 * scale) * n
        s["vn"] = gamma2 * s["vn"] + (1 - gamma2) * n**2
        c = (s["mn"] / (1 - (gamma1 * scale) ** s["step"])) / (torch.sqrt(s["vn"] / (1 - gamma2 ** s["step"])) + eps)
        if n > 0:
            g = g / n * c
        if t % gap == 0:
            s["m"], s["v"], s["step"] = torch.zeros_like(g), torch.zeros_like(g), 1
        bb1 = b1 * scale
        m.mul_(bb1).add_(g, alpha=1 - bb1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = v.sqrt() / math.sqrt(1 - b2 ** s["step"]) + eps
        p.add_(m / denom, alpha=-lr / (1 - bb1 ** s["step"]))

    return body


@pytest.mark.parametrize("wd,total_T", [(0.0, None), (0.1, None), (0.1, 100)])
def test_stable_spam_matches_official_loop_with_spikes_resets_and_decay(wd, total_T):
    kw = dict(lr=1e-3, betas=(0.9, 0.999), gamma1=0.7, gamma2=0.9, theta=0.999, gap=40, eps=1e-8, wd=wd,
              total_T=total_T, eta_min=0.5)

    def make(ps):
        return stable_spam(ps, lr=1e-3, update_proj_gap=40, weight_decay=wd, total_T=total_T, eta_min=0.5)

    assert compare(make, official_stable_spam_body(**kw), steps=130, spikes=(10, 55, 90, 121)) < TOL


def test_stable_spam_differs_from_reset_before_convention_after_the_first_reset():
    """Guards the official order: the two conventions agree before step `gap` and differ after it."""
    kw = dict(lr=1e-3, b1=0.9, b2=0.999, gamma1=0.7, gamma2=0.9, theta=0.999, gap=20, eps=1e-8, wd=0.0)
    make = lambda ps: stable_spam(ps, lr=1e-3, update_proj_gap=20)  # noqa: E731
    assert compare(make, stable_spam_body(**kw), steps=19) < TOL
    assert compare(make, stable_spam_body(**kw), steps=25) > 1e-6


def test_stable_spam_zero_gradient_tensor_updates_norm_emas_as_officially():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(4, dtype=torch.float64))
    z0 = torch.nn.Parameter(torch.randn(3, dtype=torch.float64))
    opt = stable_spam([w, z0], lr=1e-2, update_proj_gap=5)
    ref = torch.nn.Parameter(z0.detach().clone())
    body, s = official_stable_spam_body(1e-2, (0.9, 0.999), 0.7, 0.9, 0.999, 5, 1e-8, 0.0), {}
    for t in range(1, 13):
        w.grad = torch.randn(4, dtype=torch.float64)
        z0.grad = torch.zeros(3, dtype=torch.float64) if t % 3 else torch.randn(3, dtype=torch.float64)
        opt.step()
        with torch.no_grad():
            body(ref, z0.grad.clone(), s, t)
    assert (z0 - ref).abs().max().item() < TOL


def test_cosine_scale_is_torch_cosine_annealing_closed_form():
    import warnings

    from trainlab.optim.transforms.spikes import cosine_scale, count_since_reset

    sgd = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(sgd, 10 + 1, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in (1, 4, 11, 13):
            sched.step(t)
            assert cosine_scale(t, 10, 0.5) == pytest.approx(sgd.param_groups[0]["lr"], abs=1e-15)
    assert cosine_scale(7, None, 0.5) == 1.0
    # official counter: 1..gap, then restarts at 2 after each reset (reset to 1, read after the increment)
    assert [count_since_reset(t, 3) for t in range(1, 10)] == [1, 2, 3, 2, 3, 4, 2, 3, 4]


def test_momentum_reset_zeroes_inner_state_on_schedule():
    w = torch.nn.Parameter(torch.zeros(3))
    opt = Chain([w], [MomentumReset(ScaleByAdam(), update_proj_gap=5)], lr=0.1)
    for t in range(1, 11):
        w.grad = torch.ones(3) * t
        opt.step()
        m = opt.state[w]["0.momentum_reset"]["exp_avg"]
        if t % 5 == 0:  # reset then one update with this gradient
            assert torch.allclose(m, torch.full((3,), 0.1 * t))
    with pytest.raises(ValueError, match="update_proj_gap"):
        Chain([w], [MomentumReset(ScaleByAdam(), update_proj_gap=0)])


def test_spike_clip_bounds_a_1000x_spike():
    w = torch.nn.Parameter(torch.zeros(4))
    opt = Chain([w], [SpikeClip(theta=0.9)], lr=1.0)
    for _ in range(30):
        w.grad = torch.tensor([1.0, -1.0, 0.5, 0.2])
        opt.step()
    before = w.detach().clone()
    w.grad = torch.tensor([1000.0, -1.0, 0.5, 0.2])
    opt.step()
    step = before - w.detach()
    # running max after the spike: 0.9 * ~1 + 0.1 * 1000 = ~101 (bias correction ~1): spike cut ~10x
    assert 90 < step[0].item() < 110 and torch.allclose(step[1:], torch.tensor([-1.0, 0.5, 0.2]))


def test_registry_titles_and_variants():
    info = {i.name: i for i in trainlab.list(kind="optimizer")}
    assert info["amsbound"].bound["amsbound"] is True and info["adabound"].defaults["final_lr"] == 0.1
    assert info["stable_spam"].paper == "Stable-SPAM: How to Train in 4-Bit More Stably than 16-Bit Adam"
    opt = trainlab.create("amsgrad", [torch.nn.Parameter(torch.ones(2))])
    assert opt.base.param_groups[0]["amsgrad"] is True
