"""Multi-process training through PyTorch's own DistributedDataParallel.

Launch with ``torchrun --nproc_per_node N -m hwsr train --config X.toml``: torchrun sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address; :func:`init_from_env`
joins the group (NCCL on CUDA, gloo on CPU). Without those variables everything here is a
no-op and training runs in one process. Rank 0 alone validates, logs and writes files.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0  # global process index; 0 writes files
    world: int = 1  # number of processes
    local_rank: int = 0  # index on this machine (selects the GPU)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def pick_device(info: DistInfo) -> torch.device:
    """CUDA (this rank's GPU) when present, else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", info.local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def init_from_env() -> DistInfo:
    """Join the process group torchrun (or a test) described in the environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(pick_device(info))
        dist.init_process_group(backend=backend, rank=info.rank, world_size=world)
        log.info("rank %d of %d joined (%s)", info.rank, world, backend)
    return info


def wrap(module: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """``module`` in DDP when the job has several processes (gradients averaged)."""
    if not info.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def barrier(info: DistInfo) -> None:
    """Wait for every process (rank 0 writes a checkpoint the others later read)."""
    if info.enabled and dist.is_initialized():
        dist.barrier()


def all_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of a scalar over the processes (for logging the global batch's loss)."""
    if not info.enabled:
        return value
    out = value.detach().clone()
    dist.all_reduce(out)
    return out / info.world


def shutdown(info: DistInfo) -> None:
    """Leave the process group, if this process joined one."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
