"""Claims of `trainlab.metrics`, one module per component module."""

from . import (  # noqa: F401  (register the claims)
    aswd,
    boundary_tilting,
    cie,
    feature_shift,
    hessian,
    invariance,
    mfac,
    ood_ensemble,
    pma,
    relative,
    stability,
)
