"""Claims of `trainlab.explain`, one module per component module."""

from . import (  # noqa: F401  (register the claims)
    deviation_bound,
    diffroar,
    expected_gradients,
    idgi,
    integrated_gradients,
    level_set,
    lime,
    relp,
    smoothed,
)
