"""The compiled flat step (trainlab.optim.compiled) against the eager Chain loop, the oracle.

Registry-generated: every registered optimizer whose created object is a `Chain` of elementwise
transforms (decided by instantiating it at import time) is compiled and checked against its eager loop
(params and every state tensor within 1e-6 after 25 steps) and for bit-identical checkpoint continuation;
every other `Chain` must be refused by `compile_chain`. Compiling costs seconds per optimizer, so each
optimizer's compiled run is done once and shared by its tests (its uninterrupted 25 steps are both the
compiled side of the eager comparison and the reference of the checkpoint test), on one small model with
two param groups; the compiled function is shared process-wide by optimizers built the same way.
"""

from __future__ import annotations

import functools
import io
import shutil

import pytest
import torch

import trainlab
from trainlab.optim.base import Chain
from trainlab.optim.compiled import compile_chain
from trainlab.optim.optimizers import ademamix, adamw
from trainlab.optim.transforms import ClipByGlobalNorm, ScaleByAdam

pytestmark = pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                                reason="inductor needs a C++ compiler for CPU kernels")

STEPS = 25
CHECKPOINT_AT = 12


def _probe(name: str) -> bool | None:
    """True: `create(name)` is a Chain of elementwise transforms; False: a Chain with another transform;
    None: not a Chain (a wrapper or a torch optimizer), which compile_chain does not take."""
    opt = trainlab.create(name, [torch.nn.Parameter(torch.ones(2))])
    if not isinstance(opt, Chain):
        return None
    return all(getattr(t, "elementwise", False) for t in opt.transforms)


_KINDS = {info.name: _probe(info.name) for info in trainlab.list(kind="optimizer")}
COMPILABLE = [name for name, kind in _KINDS.items() if kind]
REFUSED = [name for name, kind in _KINDS.items() if kind is False]


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def groups(m: torch.nn.Module) -> list[dict]:
    # two groups with different lr and weight decay
    return [{"params": list(m[0].parameters()), "lr": 3e-2, "weight_decay": 0.1},
            {"params": list(m[2].parameters()), "weight_decay": 0.0}]


def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    return torch.randn(32, 6, generator=g), torch.randn(32, 3, generator=g)


def train(m, opt, steps, sched=None, start=0):
    for s in range(start, start + steps):
        x, y = batch(s)
        opt.zero_grad()
        torch.nn.functional.mse_loss(m(x), y).backward()
        opt.step()
        if sched is not None:
            sched.step()


def registry_factory(name: str):
    """`create(name)` with the registry defaults; the groups' weight decays only if it has one."""
    has_decay = "weight_decay" in trainlab.get(name).defaults

    def factory(param_groups: list[dict], **kw):
        if not has_decay:
            param_groups = [{k: v for k, v in g.items() if k != "weight_decay"} for g in param_groups]
        return trainlab.create(name, param_groups, **kw)

    return factory


def roundtrip(sd):
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def scheduler(opt):
    return torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)  # lr changes 3 times in 25 steps


def run(factory, compiled: bool, checkpoint_at: int | None = None, **kw):
    """STEPS steps; returns (model, optimizer, compile stats after 2 steps, checkpoint at `checkpoint_at`)."""
    m = model()
    opt = factory(groups(m), lr=1e-2, **kw)
    if compiled:
        compile_chain(opt)
    sched = scheduler(opt)
    train(m, opt, 2, sched)  # both param groups (two weight decays) have compiled by now
    warm = dict(getattr(opt, "compile_stats", {}))
    ckpt = None
    if checkpoint_at is not None:
        train(m, opt, checkpoint_at - 2, sched, start=2)
        ckpt = roundtrip({"model": m.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()})
    done = 2 if checkpoint_at is None else checkpoint_at
    train(m, opt, STEPS - done, sched, start=done)
    return m, opt, warm, ckpt


# registry-generated cases (registry defaults + the groups' weight decays), plus a non-default AdEMAMix
CASES = {name: (registry_factory(name), {}) for name in COMPILABLE}
CASES["ademamix-alpha5"] = (ademamix, {"alpha": 5.0, "weight_decay": 0.05})

# compiled vs eager: inductor fuses and reorders float32 ops, so they agree to rounding. 1e-6 absolute
# is ~8 ulp for O(1) values. Two optimizers carry O(1)-O(5) quantities built from ratios with small
# denominators, where a few ulp of rounding in m and v are amplified (measured max diffs, 25 steps):
#  - exadam: u = (m + g) d1 / (sqrt(v d2) bc1/sqrt(bc2) + eps bc1) has g / bc1 (10 g at step 1), params
#    reach |w| = 1.28 and differ by 1.25e-6 (~10 ulp of 1.28); moments differ by <= 5e-8.
#  - optimistic_amsgrad: the stored optimistic_step o = h / (sqrt(vh) + eps) has no bias correction
#    (|o| up to 3.6, e.g. 0.19 g / 0.032 |g| ~ 6 at step 1) and differs by 2.9e-6 (~6-12 ulp); params
#    differ by <= 6e-7 and m, v by <= 3e-8.
# Their tolerance is 2.5x/2x those measured values; every other case keeps 1e-6.
ATOL = {"exadam": 3e-6, "optimistic_amsgrad": 6e-6}


@functools.cache
def runs(case: str):
    """(eager run, compiled run with a checkpoint at CHECKPOINT_AT): one compile per case for the file."""
    factory, kw = CASES[case]
    return run(factory, False, **kw), run(factory, True, checkpoint_at=CHECKPOINT_AT, **kw)


def state_tensors(opt, params):
    """[(label, tensor)] for every parameter's step counter and every state tensor, in a fixed order."""
    out = []
    for i, p in enumerate(params):
        st = opt.state[p]
        out.append((f"param {i} step", st["step"]))
        for key in sorted(k for k in st if k != "step"):
            for name in sorted(st[key]):
                out.append((f"param {i} {key}/{name}", st[key][name]))
    return out


def test_compilable_set_is_generated_from_the_registry():
    # the generated lists cannot silently go empty; every registered Chain is in exactly one of them
    assert {"adamw", "ademamix"} <= set(COMPILABLE)
    assert "dog" in REFUSED  # DoG's step size uses norms: not elementwise
    chains = {n for n, k in _KINDS.items() if k is not None}
    assert chains == set(COMPILABLE) | set(REFUSED) and not set(COMPILABLE) & set(REFUSED)


@pytest.mark.parametrize("case", list(CASES))
def test_compiled_matches_eager_loop(case):
    (m_eager, opt_eager, _, _), (m_comp, opt_comp, warm, _) = runs(case)
    atol = ATOL.get(case, 1e-6)
    diffs = {}
    for i, (a, b) in enumerate(zip(m_eager.parameters(), m_comp.parameters())):
        diffs[f"param {i}"] = (b - a).abs().max().item()
        torch.testing.assert_close(b, a, rtol=0, atol=atol)
    # the state looks like the eager one: per-parameter tensors under the same keys
    for p_e, p_c in zip(m_eager.parameters(), m_comp.parameters()):
        se, sc = opt_eager.state[p_e], opt_comp.state[p_c]
        assert set(se) == set(sc) and float(se["step"]) == float(sc["step"]) == STEPS
        for key in se:
            if key != "step":
                assert set(sc[key]) == set(se[key])
                for name in se[key]:
                    assert sc[key][name].shape == p_c.shape
                    diffs[f"{key}/{name}"] = max(diffs.get(f"{key}/{name}", 0.0),
                                                 (sc[key][name] - se[key][name]).abs().max().item())
                    torch.testing.assert_close(sc[key][name], se[key][name], rtol=0, atol=atol)
    print(f"\n{case}: max |compiled - eager| = {max(diffs.values()):.3g}  {diffs}")
    # after the first two steps, lr changed 3 times and the step count 23 times: no recompile. (How many
    # compiles the first steps take depends on the compile cache: 1-3, e.g. one per `if wd == 0` branch,
    # and 0 when an identically built optimizer was compiled earlier in the process.)
    assert opt_comp.compile_stats["compiles"] == warm["compiles"]


@pytest.mark.parametrize("name", COMPILABLE)
def test_compiled_checkpoint_continues_bit_identically(name):
    # reference: the uninterrupted compiled run; checkpoint (model, optimizer, scheduler) after 12 of its
    # steps -> torch.save/load(weights_only) -> fresh model + fresh compiled optimizer -> 13 more steps
    _, (m_ref, opt_ref, _, ckpt) = runs(name)
    factory, kw = CASES[name]
    m2 = model()
    m2.load_state_dict(ckpt["model"])
    opt2 = compile_chain(factory(groups(m2), lr=1e-2, **kw))
    opt2.load_state_dict(ckpt["opt"])
    sched2 = scheduler(opt2)
    sched2.load_state_dict(ckpt["sched"])
    train(m2, opt2, STEPS - CHECKPOINT_AT, sched2, start=CHECKPOINT_AT)
    for a, b in zip(m_ref.parameters(), m2.parameters()):
        assert torch.equal(a, b)  # bit-identical continuation
    ref, got = state_tensors(opt_ref, list(m_ref.parameters())), state_tensors(opt2, list(m2.parameters()))
    assert [label for label, _ in ref] == [label for label, _ in got]
    for (label, a), (_, b) in zip(ref, got):
        assert torch.equal(a, b), label
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt_ref.param_groups]


@pytest.mark.parametrize("name", REFUSED)
def test_non_elementwise_registered_chain_is_refused(name):
    opt = trainlab.create(name, [torch.nn.Parameter(torch.ones(3))])
    first = next(t for t in opt.transforms if not getattr(t, "elementwise", False))
    with pytest.raises(ValueError, match=f"transform {type(first).__name__} .*not elementwise"):
        compile_chain(opt)
    assert not hasattr(opt, "_fast_step") or opt._fast_step is None


def test_checkpoint_continues_and_is_interchangeable_with_eager():
    # reference: 25 compiled steps in one go
    m_ref, opt_ref = model(), None
    opt_ref = compile_chain(adamw(groups(m_ref), lr=1e-2))
    train(m_ref, opt_ref, STEPS)
    # 12 compiled steps, checkpoint, fresh model + fresh compiled optimizer, 13 more
    m1 = model()
    opt1 = compile_chain(adamw(groups(m1), lr=1e-2))
    train(m1, opt1, 12)
    sd_model, sd_opt = roundtrip(m1.state_dict()), roundtrip(opt1.state_dict())
    m2 = model()
    m2.load_state_dict(sd_model)
    opt2 = compile_chain(adamw(groups(m2), lr=1e-2))
    opt2.load_state_dict(sd_opt)
    train(m2, opt2, STEPS - 12, start=12)
    for a, b in zip(m_ref.parameters(), m2.parameters()):
        assert torch.equal(a, b)  # bit-identical continuation
    # the compiled checkpoint loads into an eager optimizer and vice versa
    m3 = model()
    m3.load_state_dict(sd_model)
    opt3 = adamw(groups(m3), lr=1e-2)
    opt3.load_state_dict(sd_opt)
    train(m3, opt3, STEPS - 12, start=12)
    for a, b in zip(m_ref.parameters(), m3.parameters()):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
    m4 = model()
    m4.load_state_dict(m3.state_dict())
    opt4 = compile_chain(adamw(groups(m4), lr=1e-2))
    opt4.load_state_dict(roundtrip(opt3.state_dict()))
    train(m4, opt4, 3, start=STEPS)
    train(m3, opt3, 3, start=STEPS)
    for a, b in zip(m3.parameters(), m4.parameters()):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)


def test_non_elementwise_transform_is_refused():
    w = torch.nn.Parameter(torch.ones(3))
    opt = Chain([w], [ClipByGlobalNorm(1.0), ScaleByAdam()], lr=0.1)
    with pytest.raises(ValueError, match="ClipByGlobalNorm"):
        compile_chain(opt)
    with pytest.raises(ValueError, match="opt must be a trainlab Chain"):
        compile_chain(torch.optim.SGD([w], lr=0.1))


def test_flat_gradient_check_matches_eager_policies():
    # after the first step p.grad are views of the flat buffer and the finite check runs on it; a NaN must
    # still raise naming the parameter (group 1, parameter 1), and "skip" must leave state untouched
    m = model()
    opt = compile_chain(adamw(groups(m), lr=1e-2))
    calls = []
    eager_check = opt._runner._eager_grads_ok
    opt._runner._eager_grads_ok = lambda pg: calls.append(1) or eager_check(pg)
    train(m, opt, 3)
    assert float(opt.state[m[2].bias]["step"]) == 3
    opt.zero_grad(set_to_none=False)
    torch.nn.functional.mse_loss(m(batch(3)[0]), batch(3)[1]).backward()
    n_calls = len(calls)
    opt.step()
    assert len(calls) == n_calls  # grads accumulated into the flat buffer: the flat check was enough
    m[2].bias.grad[1] = float("nan")
    with pytest.raises(FloatingPointError, match="parameter 1 of param group 1"):
        opt.step()
    assert float(opt.state[m[2].bias]["step"]) == 4
    opt._runner.nonfinite = "skip"
    before = [p.detach().clone() for p in m.parameters()]
    opt.step()
    assert float(opt.state[m[2].bias]["step"]) == 4
    for a, b in zip(before, m.parameters()):
        assert torch.equal(a, b)
    # fresh gradient tensors (zero_grad(set_to_none=True)) are gathered again and stepped normally
    opt.zero_grad(set_to_none=True)
    torch.nn.functional.mse_loss(m(batch(4)[0]), batch(4)[1]).backward()
    opt.step()
    assert float(opt.state[m[2].bias]["step"]) == 5
    assert not torch.equal(before[-1], m[2].bias)
