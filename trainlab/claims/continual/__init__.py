"""Claims of `trainlab.continual`, one module per component module."""

from . import (  # noqa: F401  (register the claims)
    regularizers,
)
