"""DDP on CPU: two gloo processes train one tiny dual-id run; both ranks agree, and the
result matches one process on the same global batches (gradients averaged, not summed)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from hwsr.checkpoint import save_weights
from hwsr.spec import spec_from_dict
from hwsr.train import artifacts, ddp
from hwsr.train.config import TrainConfig, config_from_dict
from hwsr.train.trainer import Trainer
from tests.test_train_losses import TINY
from tests.toy_data import make_toy_dataset

# One process sums its half-batch losses in another order than two processes do; Adam's
# normalised steps keep that float32 rounding at the 1e-6 level over a handful of steps.
DDP_VS_SINGLE_ATOL = 1e-4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(root: Path, out: Path) -> TrainConfig:
    return config_from_dict({
        "run": {"mode": "dual-id", "model": str(root / "tiny" / "engine.toml"),
                "out_dir": str(out), "seed": 5},
        "data": {"dir": str(root / "data"), "crop_lr_px": 8, "batch_size": 4, "val_frames": 1,
                 "val_crop_lr_px": 0},
        "optim": {"steps": 6, "lr": 5e-3, "warmup_steps": 1},
        "schedule": {"log_every_steps": 3, "val_every_steps": 6, "ckpt_every_steps": 3},
        "qat": {"steps": 2, "calib_batches": 1},
    })


def _worker(rank: int, root: str, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE="2", LOCAL_RANK=str(rank))
    info = ddp.init_from_env()
    try:
        trainer = Trainer(_config(Path(root), Path(root) / "ddp"), progress=False, info=info)
        trainer.fit()
        save_weights(trainer.model, Path(root) / f"rank{rank}.safetensors")
    finally:
        ddp.shutdown(info)


def test_two_gloo_processes_train_like_one(tmp_path):
    make_toy_dataset(tmp_path / "data", patches=16, patch_lr_px=12, val_frames=1)
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "engine.toml").write_text(artifacts.spec_toml(spec_from_dict(TINY)))
    mp.spawn(_worker, args=(str(tmp_path), _free_port()), nprocs=2, join=True)

    single = Trainer(_config(tmp_path, tmp_path / "one"), progress=False, info=ddp.DistInfo())
    single.fit()
    save_weights(single.model, tmp_path / "single.safetensors")

    r0, r1 = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1))
    one = load_file(str(tmp_path / "single.safetensors"))
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # DDP keeps the replicas identical
        torch.testing.assert_close(r0[k], one[k], rtol=0, atol=DDP_VS_SINGLE_ATOL)
    assert (tmp_path / "ddp" / "program.npz").is_file()  # rank 0 exported the engine
