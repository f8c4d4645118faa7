"""Claims: each paper's headline effect as a small seeded experiment with a fixed verdict rule."""

from . import (  # noqa: F401  (register the claims)
    bilevel,
    continual,
    data,
    explain,
    info,
    losses,
    metrics,
    optim,
    regularizers,
)
from .base import VERDICTS, Claim, all_claims, claim, get_claim, verdict
from .runner import load_results, run_claims

__all__ = ["VERDICTS", "Claim", "all_claims", "claim", "get_claim", "load_results", "run_claims", "verdict"]
