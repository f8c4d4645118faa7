"""Claims of `trainlab.bilevel`, one module per component module."""

from . import (  # noqa: F401  (register the claims)
    implicit,
    truncated,
)
