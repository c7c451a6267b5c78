"""The training objectives of the paper's four rows, as modules that DDP can wrap.

Dual-stage (``dual``, ``dual-id``)::

    L1   = |Net1(LR) − dHR|₁                       (stage 1 removes the codec damage)
    L2   = |Net2(Net1(LR)) − HR|₁                  (stage 2 upscales ×3)
    L_id = Σ_l |F_l(Net2, Net1(LR)) − F_l(Net2, dHR)|₁   over Net2's hidden feature maps
    L    = λ1·L1 + λ2·L2 + λid·L_id

The teacher ``F_l(Net2, dHR)`` runs under ``no_grad`` with the student's current weights
(in effect copied every step), or with ``id_teacher_ema = d > 0``, with an exponential
moving average of Net2's weights (``T ← d·T + (1 − d)·W`` before every step's pass; the
mean teacher). The average is the loss's state: :meth:`DualLoss.loss_state` goes into the
checkpoint, so a resumed run continues the same average. Where L_id's gradient may go is ``id_route``:

* ``"net1"`` (default): the student features are computed by a second Net2 pass whose
  weights are *detached* (``torch.func.functional_call``), so L_id trains Net1 only: it
  learns to produce inputs on which Net2 behaves as on dHR. L1 and L2 still train both.
* ``"both"``: the student features of the ordinary Net2 pass, so L_id also reaches Net2's
  weights. Student and teacher share those weights, and the cheapest way to make their
  features equal is to make them constant: docs/design.md records Net2 collapsing this way.
* ``"net2"``: Net2 runs on Net1's output *detached*, so L_id trains Net2 only: it learns to
  treat Net1's residual errors as it treats dHR (robustness), Net1 sees only L1 and L2.

λid may ramp in (``id_warmup_steps``) and fall linearly to 0 over the float phase's last
``id_decay_steps`` (L_id as a curriculum: the run ends on the plain dual objective).
``id_distance = "l1n"`` divides each signal's mean |F_s − F_t| by the teacher's mean |F_t|,
so every layer weighs the same whatever its activations' scale.

Single-stage (``baseline``: dHR → HR, ``hd2uhd``: video-LR → HR): ``L = |net(x) − HR|₁``.
Every |·|₁ is a mean over elements, so λ's weigh terms of different sizes equally.
``pixel = "mse"`` replaces |·|₁ by the mean squared error in L1 and L2 (L_id stays |·|₁):
on codec-damaged input the L1 optimum is a conditional median, sharper and noisier than
the conditional mean that PSNR rewards.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from hwsr.arch.engine_net import DualStageSR
from hwsr.train.config import ID_FEATURES, ID_ROUTES

LossParts = dict[str, torch.Tensor]  # term name → detached scalar, for logging


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of two tensors of one shape.

    >>> float(l1(torch.zeros(2, 2), torch.ones(2, 2)))
    1.0
    """
    return (a - b).abs().mean()


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error of two tensors of one shape (what PSNR measures).

    >>> float(mse(torch.zeros(2, 2), torch.full((2, 2), 2.0)))
    4.0
    """
    return ((a - b) ** 2).mean()


def l1n(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of ``a`` against ``b``, relative to the mean |b| (scale-free).

    >>> float(l1n(torch.zeros(2, 2), torch.full((2, 2), 4.0)))
    1.0
    """
    return (a - b).abs().mean() / (b.abs().mean() + 1e-6)


PIXEL_DISTANCES = {"l1": l1, "mse": mse}
ID_DISTANCES = {**PIXEL_DISTANCES, "l1n": l1n}


def feature_distance(student: list[torch.Tensor], teacher: list[torch.Tensor],
                     distance: str = "l1") -> torch.Tensor:
    """L_id: Σ over layers of the mean |F_student − F_teacher| (``distance='l1'``), of the
    mean squared difference (``'mse'``) or of the relative L1 (``'l1n'``); the teacher is
    detached.

    >>> f = [torch.ones(1, 2, 3, 3), torch.zeros(1, 2, 3, 3)]
    >>> float(feature_distance(f, [t.clone() for t in f]))
    0.0
    """
    if len(student) != len(teacher) or not student:
        raise ValueError(f"need matching non-empty feature lists, got {len(student)} and "
                         f"{len(teacher)}")
    d = ID_DISTANCES[distance]
    return torch.stack([d(s, t.detach()) for s, t in zip(student, teacher, strict=True)]).sum()


def frozen_pass(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Output and hidden feature maps of ``net`` on ``x`` with its weights as constants.

    The gradient flows to ``x`` (hence to whatever produced it) but never to ``net``'s
    parameters: they enter the call detached.
    """
    state = {k: v.detach() for k, v in net.named_parameters()}
    state.update(dict(net.named_buffers()))
    out, feats = functional_call(net, state, (x,), {"return_features": True})
    return out, feats


def frozen_features(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Hidden feature maps of :func:`frozen_pass`."""
    return frozen_pass(net, x)[1]



class DualLoss(nn.Module):
    """L = λ1·L1 + λ2·L2 (+ λid·L_id) of a :class:`DualStageSR`; wrap this module in DDP."""

    def __init__(self, model: DualStageSR, lambda_net1: float, lambda_net2: float,
                 lambda_id: float = 0.0, id_route: str = "net1", pixel: str = "l1",
                 id_features: str = "all", id_distance: str = "l1",
                 id_warmup_steps: int = 0, id_teacher_ema: float = 0.0,
                 id_decay_steps: int = 0, float_steps: int = 0) -> None:
        super().__init__()
        if id_route not in ID_ROUTES:
            raise ValueError(f"id_route must be one of {ID_ROUTES}, got {id_route!r}")
        if id_features not in ID_FEATURES or id_distance not in ID_DISTANCES:
            raise ValueError(f"id_features must be one of {ID_FEATURES} and id_distance one of "
                             f"{tuple(ID_DISTANCES)}")
        if id_decay_steps > float_steps:
            raise ValueError(f"id_decay_steps ({id_decay_steps}) exceeds the float phase's "
                             f"{float_steps} steps")
        self.model = model
        self.pixel = PIXEL_DISTANCES[pixel]
        self.lambdas = (lambda_net1, lambda_net2, lambda_id)
        self.id_route, self.id_features, self.id_distance = id_route, id_features, id_distance
        self.id_warmup_steps = id_warmup_steps
        self.id_decay_steps, self.float_steps = id_decay_steps, float_steps
        if not 0.0 <= id_teacher_ema < 1.0:
            raise ValueError(f"id_teacher_ema must be in [0, 1), got {id_teacher_ema}")
        self.ema_decay = id_teacher_ema
        # Net2's averaged parameters; a plain dict, not registered: DDP must not sync or
        # reduce it (every process computes the same average from the same weights).
        self._ema: dict[str, torch.Tensor] = {}

    def loss_state(self) -> dict[str, torch.Tensor]:
        """The EMA teacher's weights (``ema.<name>``; empty without an EMA teacher)."""
        return {f"ema.{k}": v for k, v in self._ema.items()}

    def load_loss_state(self, tensors: dict[str, torch.Tensor]) -> None:
        """Continue the EMA saved by :meth:`loss_state` (a fresh one starts from Net2)."""
        ema = {k.removeprefix("ema."): v for k, v in tensors.items() if k.startswith("ema.")}
        if ema and self.ema_decay > 0:
            names = {k for k, _ in self.model.net2.named_parameters()}
            if set(ema) != names:
                raise ValueError("the checkpoint's EMA teacher does not match Net2's parameters")
            device = next(self.model.net2.parameters()).device
            self._ema = {k: v.to(device) for k, v in ema.items()}

    @torch.no_grad()
    def _update_ema(self) -> None:
        params = dict(self.model.net2.named_parameters())
        if not self._ema:
            self._ema = {k: p.detach().clone() for k, p in params.items()}
            return
        for k, avg in self._ema.items():
            avg.mul_(self.ema_decay).add_(params[k].detach(), alpha=1.0 - self.ema_decay)

    def teacher(self, dhr: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Net2 on the true dHR, with the current or the averaged weights, no gradient."""
        with torch.no_grad():
            if self.ema_decay == 0:
                return self.model.net2_on(dhr, return_features=True)
            state = {**dict(self.model.net2.named_buffers()), **self._ema}
            return functional_call(self.model.net2, state, (dhr,), {"return_features": True})

    def id_weight(self, step: int | None) -> float:
        """λ_id at optimizer step ``step``: ramped linearly from 0 over the warm-up steps
        (the student's Net1 first learns to restore, then to match the teacher), and falling
        linearly to 0 over the float phase's last ``id_decay_steps`` (0 in the QAT phase)."""
        lam_id = self.lambdas[2]
        if step is None:
            return lam_id
        if self.id_warmup_steps:
            lam_id *= min(1.0, (step + 1) / self.id_warmup_steps)
        if self.id_decay_steps:
            lam_id *= min(1.0, max(0.0, (self.float_steps - step) / self.id_decay_steps))
        return lam_id

    def forward(self, lr: torch.Tensor, dhr: torch.Tensor, hr: torch.Tensor,
                step: int | None = None) -> tuple[torch.Tensor, LossParts]:
        lam1, lam2, _ = self.lambdas
        lam_id = self.id_weight(step)
        y1, y2, feats = self.model(lr, return_features=True)
        loss_net1, loss_net2 = self.pixel(y1, dhr), self.pixel(y2, hr)
        total = lam1 * loss_net1 + lam2 * loss_net2
        parts = {"l1": loss_net1.detach(), "l2": loss_net2.detach()}
        if self.lambdas[2] > 0:
            if self.ema_decay > 0 and self.training:
                self._update_ema()
            loss_id = self.distillation(y1, dhr, feats, y2)
            total = total + lam_id * loss_id
            parts["lid"] = loss_id.detach()
        parts["loss"] = total.detach()
        return total, parts

    def distillation(self, y1: torch.Tensor, dhr: torch.Tensor, feats: list[torch.Tensor],
                     y2: torch.Tensor) -> torch.Tensor:
        """L_id between Net2 on Net1's output (student) and on the true dHR (teacher), on
        the signals ``id_features`` names, at distance ``id_distance``."""
        t_out, t_feats = self.teacher(dhr)
        if self.id_route == "both":
            s_out, s_feats = y2, feats
        elif self.id_route == "net2":
            s_out, s_feats = self.model.net2_on(y1.detach(), return_features=True)
        else:
            s_out, s_feats = frozen_pass(self.model.net2, y1)
        student, teacher = {"all": (s_feats, t_feats), "last": (s_feats[-1:], t_feats[-1:]),
                            "output": ([s_out], [t_out])}[self.id_features]
        return feature_distance(student, teacher, self.id_distance)


class SingleLoss(nn.Module):
    """L = |net(x) − HR|₁ with x = dHR (``baseline``) or video-LR (``hd2uhd``)."""

    def __init__(self, model: nn.Module, input_key: str, pixel: str = "l1") -> None:
        super().__init__()
        if input_key not in ("lr", "dhr"):
            raise ValueError(f"input_key must be 'lr' or 'dhr', got {input_key!r}")
        self.model = model
        self.input_key = input_key
        self.pixel = PIXEL_DISTANCES[pixel]

    def forward(self, lr: torch.Tensor, dhr: torch.Tensor, hr: torch.Tensor,
                step: int | None = None) -> tuple[torch.Tensor, LossParts]:
        del step  # one net: nothing is scheduled by step
        x = dhr if self.input_key == "dhr" else lr
        loss = self.pixel(self.model(x), hr)
        return loss, {"l2": loss.detach(), "loss": loss.detach()}
