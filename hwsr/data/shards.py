"""Shard files: reproducible, memory-mappable ``.npz`` of aligned (lr, dhr, hr) triples.

A shard is an ordinary ``.npz`` (``np.load`` opens it) holding uint8 arrays ``lr`` and
``dhr`` (N×p×p×3) and ``hr`` (N×3p×3p×3). Two details differ from ``np.savez``:

* members are written with a fixed timestamp, so the same build gives byte-identical
  files (``np.savez`` stamps the current time into the zip);
* members are stored uncompressed, so `open_npz` can memory-map each array in place and a
  DataLoader reads only the patches it samples.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # zip local file header, 30 bytes
_LOCAL_MAGIC = b"PK\x03\x04"


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` with fixed member timestamps."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            zf.writestr(info, buf.getvalue())


def open_npz(path: Path) -> dict[str, np.ndarray]:
    """Arrays of an uncompressed ``.npz``, memory-mapped read-only (no data is read yet).

    Falls back to loading a member into memory if it is compressed.
    """
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        for info in zf.infolist():
            name = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED:
                with zf.open(info) as member:
                    out[name] = np.lib.format.read_array(member, allow_pickle=False)
                continue
            fh.seek(info.header_offset)
            fields = _LOCAL_HEADER.unpack(fh.read(_LOCAL_HEADER.size))
            if fields[0] != _LOCAL_MAGIC:
                raise ValueError(f"{path}: member {info.filename} has a bad zip header")
            fh.seek(fields[-2] + fields[-1], io.SEEK_CUR)  # file name and extra field
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(fh)
            out[name] = np.memmap(
                path,
                dtype=dtype,
                mode="r",
                offset=fh.tell(),
                shape=shape,
                order="F" if fortran else "C",
            )
    return out


class ShardWriter:
    """Collect triples of one source and write them as ``<prefix>-NNNN.npz`` shards."""

    def __init__(self, folder: Path, prefix: str, shard_patches: int) -> None:
        self.folder, self.prefix, self.shard_patches = folder, prefix, shard_patches
        self.files: list[tuple[str, int]] = []  # (file name, triples)
        self._parts: dict[str, list[np.ndarray]] = {"lr": [], "dhr": [], "hr": []}
        self._pending = 0

    @property
    def total(self) -> int:
        return sum(n for _, n in self.files) + self._pending

    def add(self, lr: np.ndarray, dhr: np.ndarray, hr: np.ndarray) -> None:
        """Append a batch of aligned triples (N×p×p×3, N×p×p×3, N×3p×3p×3, uint8)."""
        for key, arr in (("lr", lr), ("dhr", dhr), ("hr", hr)):
            self._parts[key].append(arr)
        self._pending += len(lr)
        while self._pending >= self.shard_patches:
            self._flush(self.shard_patches)

    def close(self) -> list[tuple[str, int]]:
        if self._pending:
            self._flush(self._pending)
        return self.files

    def discard(self) -> None:
        """Delete every shard written so far (the source failed midway)."""
        for name, _ in self.files:
            (self.folder / name).unlink(missing_ok=True)
        self.files.clear()
        self._parts = {"lr": [], "dhr": [], "hr": []}
        self._pending = 0

    def _flush(self, n: int) -> None:
        arrays = {}
        for key, parts in self._parts.items():
            joined = np.concatenate(parts) if len(parts) > 1 else parts[0]
            arrays[key] = joined[:n]
            self._parts[key] = [joined[n:]] if len(joined) > n else []
        name = f"{self.prefix}-{len(self.files):04d}.npz"
        write_npz(self.folder / name, arrays)
        self.files.append((name, n))
        self._pending -= n
