"""Claims of `trainlab.info`, one module per component module."""

from . import (  # noqa: F401  (register the claims)
    dimco,
    plane,
    variational,
    wasserstein,
)
