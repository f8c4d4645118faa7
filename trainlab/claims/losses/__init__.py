"""Claims of `trainlab.losses`, one module per component module."""

from . import (  # noqa: F401  (register the claims)
    adversarial,
    comp_sum,
    elr,
    ensloss,
    gradcache,
    icon,
    ldr,
    mixup,
    pskd,
    stablemax,
    zloss,
)
