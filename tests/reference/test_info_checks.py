"""The shared input checks of `trainlab.info` (`_checks.py`) and the retrieval metric of the DIMCO claim."""

from __future__ import annotations

import pytest
import torch

from trainlab.claims.info.dimco import precision_at_k
from trainlab.info._checks import check_block_size, check_int, check_pair, check_same_count, check_samples
from trainlab.info.critics import SeparableCritic
from trainlab.info.kernel import cs_qmi


def test_valid_inputs_become_2d_views() -> None:
    x, y = check_pair(torch.arange(4.0), torch.zeros(4, 3))
    assert x.shape == (4, 1) and y.shape == (4, 3)
    z = torch.randn(5, 2)
    assert check_samples("z", z) is z
    assert check_same_count(a=z, b=z) == 5
    assert check_int("steps", 3, 1) == 3 and check_block_size(None) is None


@pytest.mark.parametrize("call,message", [
    (lambda: check_samples("z", [1.0, 2.0]), r"z must be a torch.Tensor, got list"),
    (lambda: check_samples("z", torch.arange(3)), r"z must have a floating dtype, got dtype torch.int64"),
    (lambda: check_samples("z", torch.zeros(2, 2, 2)), r"z must have shape \(N, D\) or \(N,\)"),
    (lambda: check_samples("z", torch.zeros(3, 0)), r"z has no features"),
    (lambda: check_samples("z", torch.zeros(1, 2)), r"z has 1 samples, too small: .* at least 2"),
    (lambda: check_samples("z", torch.tensor([0.0, float("inf")])), r"z contains non-finite values"),
    (lambda: check_same_count(x=torch.zeros(3), y=torch.zeros(2)),
     r"mismatched sample counts: x has 3, y has 2 \(x and y must have the same number of samples\)"),
    # check_pair reports a count mismatch before the NaN, and a too-small batch before the NaN
    (lambda: check_pair(torch.zeros(3), torch.full((2,), float("nan"))), r"same number of samples"),
    (lambda: check_pair(torch.zeros(1), torch.full((1,), float("nan"))), r"batch size 1 is too small"),
    (lambda: check_pair(torch.zeros(2), torch.tensor([0.0, float("nan")])), r"^y contains non-finite"),
    (lambda: check_int("steps", True, 1), r"steps must be an integer >= 1, got True"),
    (lambda: check_block_size(0), r"block_size must be an integer >= 1"),
    # the consumers keep naming the argument: a critic and a kernel estimator
    (lambda: SeparableCritic(2, 2, hidden=0), r"hidden must be an integer >= 1"),
    (lambda: cs_qmi(torch.zeros(4, 1), torch.zeros(4, 1).int()), r"y must have a floating dtype"),
])
def test_bad_input_messages(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_precision_at_k_by_hand_with_ties() -> None:
    # one query of class 0; distances to 5 items; top = 2
    labels = torch.tensor([0, 1, 0, 1, 1])
    q = torch.tensor([0])
    # item 0 strictly closest (relevant); items 1, 2, 3 tied at the cut-off, 1 of 3 relevant:
    # expected hits = 1 + 1 * (1/3) -> precision (4/3)/2
    dist = torch.tensor([[0, 1, 1, 1, 5]])
    assert precision_at_k(dist, q, labels, 2) == pytest.approx(2 / 3, abs=1e-12)
    # no ties: the two nearest are items 0 and 2, both relevant
    assert precision_at_k(torch.tensor([[0, 3, 1, 4, 5]]), q, labels, 2) == pytest.approx(1.0)
    # all tied: the expected precision is the relevant fraction 2/5
    assert precision_at_k(torch.zeros(1, 5, dtype=torch.long), q, labels, 3) == pytest.approx(0.4)
