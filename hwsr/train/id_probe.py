"""Where input distillation pushes Net1, next to where the image losses push it.

For a trained dual pair and a few training batches, the probe takes the gradient of each
term of the dual objective with respect to Net1's parameters — L1 (|Net1(LR) − dHR|),
L2 (|Net2(Net1(LR)) − HR|, through Net2) and L_id (route ``net1``: Net2's features on
Net1's output against those on the true dHR) — and reports their norms and the cosine of
each pair, averaged over the batches. A cosine near 1 between L_id and L2 says L_id
repeats what the end-to-end term already asks of Net1 (a larger step, not new knowledge);
near 0, that it asks for something neither image term does. Under Adam, which divides each
parameter's step by its gradient's running magnitude, the part of L_id's gradient that a mix
of the image terms explains changes little but the L1:L2 balance on Net1; what can teach
Net1 something new is the rest (``novel``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import torch

from hwsr.arch.engine_net import DualStageSR
from hwsr.train.batches import PatchBatches
from hwsr.train.losses import DualLoss

TERMS = ("l1", "l2", "lid")


@dataclass(frozen=True)
class IdProbe:
    """Mean gradient norms (per term) and mean pairwise cosines over the probe's batches."""

    batches: int
    norm: dict[str, float]  # term → mean ‖∇_Net1 term‖₂ (λ = 1)
    cosine: dict[str, float]  # "a·b" → mean cos(∇a, ∇b)
    # ∇L_id ≈ a·∇L1 + b·∇L2 (least squares, per batch): the mean a and b, and the mean share
    # of ‖∇L_id‖² that this mix of the image terms explains (1: L_id is a re-weighting of λ1, λ2)
    mix: tuple[float, float]
    explained: float
    # mean ‖∇L_id − (a·∇L1 + b·∇L2)‖ / ‖∇L1 + ∇L2‖: the part of L_id's gradient that no mix
    # of the image terms gives, against Net1's gradient in plain dual training (times λid
    # for the share it takes of a dual-id step)
    novel: float


def term_gradients(model: DualStageSR, lr: torch.Tensor, dhr: torch.Tensor, hr: torch.Tensor,
                   id_features: str = "all", id_distance: str = "l1") -> dict[str, torch.Tensor]:
    """Flattened gradient of L1, L2 and L_id (route ``net1``) on Net1's parameters, each
    with λ = 1, in float64."""
    params = list(model.net1.parameters())
    out: dict[str, torch.Tensor] = {}
    for term in TERMS:
        lambdas = {"l1": (1.0, 0.0, 0.0), "l2": (0.0, 1.0, 0.0), "lid": (0.0, 0.0, 1.0)}[term]
        loss = DualLoss(model, *lambdas, id_route="net1", id_features=id_features,
                        id_distance=id_distance)
        total, _ = loss(lr, dhr, hr)  # the other terms enter with weight 0: zero gradient
        grads = torch.autograd.grad(total, params, allow_unused=True)
        out[term] = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                               for g, p in zip(grads, params, strict=True)]).double()
    return out


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """cos of the angle between two flat vectors (0 when either is zero).

    >>> cosine(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]))  # doctest: +ELLIPSIS
    0.7071...
    """
    den = float(a.norm() * b.norm())
    return float(a @ b) / den if den > 0 else 0.0


def image_term_mix(g: dict[str, torch.Tensor]) -> tuple[float, float, float]:
    """(a, b, r²) of the least-squares fit ∇L_id ≈ a·∇L1 + b·∇L2; r² is the share of
    ‖∇L_id‖² the fit explains.

    >>> g = {"l1": torch.tensor([1.0, 0, 0]), "l2": torch.tensor([0, 1.0, 0]),
    ...      "lid": torch.tensor([2.0, 3.0, 4.0])}
    >>> [round(v, 4) for v in image_term_mix(g)]
    [2.0, 3.0, 0.4483]
    """
    basis = torch.stack([g["l1"], g["l2"]], dim=1).double()
    target = g["lid"].double()
    total = float(target @ target)
    if total == 0:
        return 0.0, 0.0, 0.0
    coef = torch.linalg.lstsq(basis, target.unsqueeze(1)).solution.squeeze(1)
    resid = target - basis @ coef
    return float(coef[0]), float(coef[1]), 1.0 - float(resid @ resid) / total


def probe(model: DualStageSR, data_dir: Path | str, batches: int = 16, batch_size: int = 16,
          crop_lr_px: int = 40, seed: int = 1000, id_features: str = "all",
          id_distance: str = "l1") -> IdProbe:
    """:class:`IdProbe` of ``model`` on ``batches`` random training crops of ``data_dir``
    (``seed`` picks them; away from the training seeds so no batch is one a run trained on
    at the same step)."""
    if batches < 1:
        raise ValueError(f"batches must be >= 1, got {batches}")
    source = PatchBatches(data_dir, batch_size, crop_lr_px, seed)
    norm = dict.fromkeys(TERMS, 0.0)
    pairs = list(itertools.combinations(TERMS, 2))
    cos = {f"{a}·{b}": 0.0 for a, b in pairs}
    mix_a = mix_b = explained = novel = 0.0
    model.eval()
    for step in range(batches):
        b = source.batch(step)
        g = term_gradients(model, b.lr, b.dhr, b.hr, id_features, id_distance)
        for t in TERMS:
            norm[t] += float(g[t].norm()) / batches
        for a, c in pairs:
            cos[f"{a}·{c}"] += cosine(g[a], g[c]) / batches
        fa, fb, r2 = image_term_mix(g)
        mix_a, mix_b, explained = (mix_a + fa / batches, mix_b + fb / batches,
                                   explained + r2 / batches)
        dual = float((g["l1"] + g["l2"]).norm())
        if dual > 0:
            novel += float((g["lid"] - fa * g["l1"] - fb * g["l2"]).norm()) / dual / batches
    return IdProbe(batches, norm, cos, (mix_a, mix_b), explained, novel)
