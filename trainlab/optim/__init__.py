"""Composable optimizers: transforms, the `Chain` optimizer, `with_transforms`, and named factories."""

from .adaptive import adabound, adamomentum, amsgrad, exadam, grams, optimistic_amsgrad
from .base import Chain, Transform
from .compiled import compile_chain
from .entropy_sgd import EntropySGD, entropy_sgd
from .extras import (
    adamw_sn,
    adamw_snsm,
    coordinate_clip_sgd,
    dog,
    innaprop,
    ldog,
    lr_batch_scaling,
    ortho_adamw,
    xgrad_adam,
    xgrad_adamw,
    xgrad_sgd,
)
from .forward_gradient import ForwardGradientSGD, forward_gradient
from .optimizers import ademamix, adamw, grokfast_ema_adamw, grokfast_ma_adamw
from .spam import ScaleBySPAM, spam, spam_warmup_scale, stable_spam
from .sparse_masks import GradientMask, fisher_mask, masked, random_mask
from .udog import UDoG, udog
from .transforms import *  # noqa: F403  (the transform classes; see transforms.__all__)
from .transforms import __all__ as _transforms
from .weight_prediction import WeightPrediction
from .wrap import WithTransforms, with_transforms

# optax-style lower-case names for the core transforms
scale_by_adam = ScaleByAdam  # noqa: F405
scale_by_ademamix = ScaleByAdEMAMix  # noqa: F405
add_decayed_weights = AddDecayedWeights  # noqa: F405
clip_by_global_norm = ClipByGlobalNorm  # noqa: F405
grokfast_ema = GrokfastEMA  # noqa: F405
grokfast_ma = GrokfastMA  # noqa: F405
compile = compile_chain  # trainlab.optim.compile(opt): the compiled fast path

__all__ = [
    *_transforms, "Chain", "Transform", "WeightPrediction", "WithTransforms", "adabound", "adamomentum", "adamw",
    "adamw_sn", "adamw_snsm", "add_decayed_weights", "ademamix", "amsgrad", "clip_by_global_norm",
    "coordinate_clip_sgd", "dog", "exadam", "grams", "grokfast_ema", "grokfast_ema_adamw", "grokfast_ma",
    "grokfast_ma_adamw", "innaprop", "ldog", "lr_batch_scaling", "optimistic_amsgrad", "ortho_adamw",
    "scale_by_adam", "scale_by_ademamix", "stable_spam", "ScaleBySPAM", "UDoG", "compile", "compile_chain", "spam",
    "spam_warmup_scale", "udog", "GradientMask", "fisher_mask", "masked", "random_mask",
    "EntropySGD", "entropy_sgd", "ForwardGradientSGD", "forward_gradient", "with_transforms", "xgrad_adam", "xgrad_adamw", "xgrad_sgd",
]
