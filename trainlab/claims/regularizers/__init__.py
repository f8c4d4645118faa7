"""Claims of `trainlab.regularizers`, one module per component module."""

from . import (  # noqa: F401  (register the claims)
    attribution_robustness,
    gradient_regularization,
    multi_sample_dropout,
    spectral_decoupling,
)
