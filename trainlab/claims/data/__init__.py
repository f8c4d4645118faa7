"""Claims of `trainlab.data`, one module per component module."""

from . import (  # noqa: F401  (register the claims)
    confident_learning,
    coteaching,
    emlc,
    feature_gradients,
    gio,
    infobatch,
    memorization,
    rcal,
    scores,
    useful,
)
