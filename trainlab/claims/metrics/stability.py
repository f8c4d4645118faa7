"""qk-layernorm lowers learning-rate sensitivity of a tiny Transformer (Wortsman et al. 2023, scaled down).

Set-up fixed before any run, from the paper's recipe scaled down (catalog hint: 2 layers, d = 64,
LR sweep 1e-3..3e-1, 200 steps): a pre-LayerNorm decoder-only Transformer without biases, 2 layers,
width 64, 4 heads, MLP 4x with GELU, learned positions, untied unembedding; weights N(0, 1/fan_in),
embeddings N(0, 1). Task: copy a random string of 8 tokens (vocabulary 16) after a separator;
next-token cross-entropy on the 8 copied positions, batch 32 fresh sequences per step (the same
stream for every run of a seed). AdamW betas (0.9, 0.95), eps 1e-8, weight decay 1e-4 independent of
the learning rate (torch's decay is multiplied by lr, so we pass 1e-4 / lr), gradient clipping at
global norm 1, linear warm-up over 5% of the steps then cosine decay to 0, z-loss 1e-4 in both arms.
Learning rates: 4 log-spaced values from 1e-3 to 3e-1. Final loss = held-out cross-entropy (2048
sequences) after training; a non-finite loss counts as the loss at initialisation L0 (the paper's cap).
Metric: ln(LR sensitivity) (`trainlab.metrics.stability.lr_sensitivity`); the claim (>= 30% lower
sensitivity with qk-layernorm, catalog) is a log-ratio of ln(1/0.7) = 0.357.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...metrics.stability import QKLayerNormAttention, lr_sensitivity, z_loss
from ..base import claim


class Block(nn.Module):
    """Pre-LN Transformer block: x + attn(LN(x)), then x + MLP(LN(x)); no biases."""

    def __init__(self, dim: int, heads: int, qk_layernorm: bool) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim, bias=False), nn.LayerNorm(dim, bias=False)
        self.attn = QKLayerNormAttention(dim, heads, qk_layernorm=qk_layernorm)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim, bias=False), nn.GELU(), nn.Linear(4 * dim, dim, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyTransformer(nn.Module):
    """Decoder-only Transformer: (B, T) tokens -> (B, T, vocab) logits."""

    def __init__(self, vocab: int, seq_len: int, dim: int, layers: int, heads: int, qk_layernorm: bool) -> None:
        super().__init__()
        self.embed, self.pos = nn.Embedding(vocab, dim), nn.Parameter(torch.zeros(seq_len, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, qk_layernorm) for _ in range(layers)])
        self.ln_f, self.head = nn.LayerNorm(dim, bias=False), nn.Linear(dim, vocab, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=m.in_features ** -0.5)
        nn.init.normal_(self.embed.weight, std=1.0)
        nn.init.normal_(self.pos, std=1.0)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(self.ln_f(self.blocks(self.embed(tokens) + self.pos[: tokens.shape[1]])))


def copy_batch(n: int, length: int, vocab: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Inputs (n, 2L) = [s, SEP, s[:-1]] and targets (n, L) = s; the copy is predicted at positions L..2L-1."""
    s = torch.randint(0, vocab - 1, (n, length), generator=gen)
    sep = torch.full((n, 1), vocab - 1)
    return torch.cat([s, sep, s[:, :-1]], dim=1), s


def copy_loss(model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """(cross-entropy on the copied positions, their logits (n, L, vocab))."""
    logits = model(x)[:, -y.shape[1]:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)), logits


def final_loss(qk_layernorm: bool, lr: float, seed: int, config: Mapping[str, Any]) -> tuple[float, float]:
    """Train one run; returns (held-out loss at initialisation, held-out loss after training)."""
    torch.manual_seed(seed)
    c = config
    model = TinyTransformer(c["vocab"], 2 * c["length"], c["dim"], c["layers"], c["heads"], qk_layernorm)
    x_te, y_te = copy_batch(c["eval_size"], c["length"], c["vocab"], torch.Generator().manual_seed(10_000 + seed))
    with torch.no_grad():
        loss0 = float(copy_loss(model, x_te, y_te)[0])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=tuple(c["betas"]), eps=c["eps"],
                            weight_decay=c["weight_decay"] / lr)
    steps, warm = c["steps"], max(1, round(c["warmup_fraction"] * c["steps"]))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x, y = copy_batch(c["batch_size"], c["length"], c["vocab"], gen)
        ce, logits = copy_loss(model, x, y)
        loss = ce + z_loss(logits, coef=c["z_loss"])
        if not bool(torch.isfinite(loss)):
            return loss0, math.nan  # diverged: capped at L0 by lr_sensitivity
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), c["clip"])
        opt.step()
        schedule.step()
    with torch.no_grad():
        return loss0, float(copy_loss(model, x_te, y_te)[0])


def sensitivity(qk_layernorm: bool, seed: int, config: Mapping[str, Any]) -> float:
    lrs = np.geomspace(config["lr_min"], config["lr_max"], config["n_lrs"])
    results = {float(lr): final_loss(qk_layernorm, float(lr), seed, config) for lr in lrs}
    loss_init = float(np.mean([r[0] for r in results.values()]))
    return lr_sensitivity({lr: r[1] for lr, r in results.items()}, loss_init=loss_init)


@claim(
    name="qk-layernorm-lr-sensitivity",
    paper="Small-scale proxies for large-scale Transformer training instabilities",
    statement="qk-layernorm lowers the learning-rate sensitivity of a small Transformer (here: by >= 30%, "
              "catalog) because it stops the attention logits from growing at high learning rates.",
    task="copy 8 random tokens (vocab 16), 2-layer pre-LN Transformer d=64, AdamW, 4 LRs in [1e-3, 3e-1]",
    baseline="standard attention", treatment="qk-layernorm attention",
    metric="ln LR sensitivity (nats of held-out cross-entropy)", direction="lower", min_effect=math.log(1 / 0.7),
    config={"vocab": 16, "length": 8, "dim": 64, "layers": 2, "heads": 4, "batch_size": 32, "steps": 200,
            "warmup_fraction": 0.05, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 1e-4, "clip": 1.0,
            "z_loss": 1e-4, "lr_min": 1e-3, "lr_max": 3e-1, "n_lrs": 4, "eval_size": 2048},
    quick={"steps": 50}, quick_seeds=2,
    components=("qk_layernorm_attention", "lr_sensitivity", "z_loss"),
)
def qk_layernorm_lr_sensitivity(arm: str, seed: int, config: Mapping[str, Any]) -> float:
    return math.log(max(sensitivity(arm == "treatment", seed, config), 1e-6))
