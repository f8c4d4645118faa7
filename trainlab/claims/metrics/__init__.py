"""Claims of `trainlab.metrics`, one module per component module."""

from . import (  # noqa: F401  (register the claims)
    mfac,
)
