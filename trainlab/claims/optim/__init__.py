"""Claims of `trainlab.optim`, one module per component module."""

from . import (  # noqa: F401  (register the claims)
    adaptive,
    entropy_sgd,
    extras,
    forward_gradient,
    optimizers,
    spam,
    sparse_masks,
    udog,
)
