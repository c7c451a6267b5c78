"""The one home of atomic output: files, products of several files, and whole folders.

Every file hwsr writes is written under a hidden temporary name in its destination folder,
fsynced and renamed into place, so a reader (or a run killed at any moment) sees the old
file or the new one, never half of one. Products of several files are published together
after all of them are complete; folders are built beside their destination and swapped in
with one atomic exchange (Linux ``renameat2``), falling back to two renames where the system
lacks it. Temporaries carry a recognisable name (``.NAME.<pid>@<host>-<hex>.tmp…``,
``.NAME.partial-<pid>@<host>-…``) so that the next run can remove what a killed run left
behind: at once when that process no longer runs on this machine, else once it is stale.

Output paths are checked with :func:`check_output` before any work starts, so a command
never computes for minutes and then fails to write.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import math
import os
import re
import secrets
import shutil
import socket
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

PathLike = str | os.PathLike[str]
STALE_SECONDS = 3600.0  # a temporary older than this belongs to a run that died
_RENAME_EXCHANGE = 2  # renameat2 flag: swap two paths atomically (Linux >= 3.15)
_AT_FDCWD = -100
# Who owns a temporary: "<pid>@<host tag>" in its name, so the next run on this machine can
# tell a killed writer's leftovers (owner gone) from those of a run still going.
_HOST = f"{zlib.crc32(socket.gethostname().encode()) & 0xFFFFFF:06x}"
_OWNER_RE = re.compile(r"(\d+)@([0-9a-f]{6})-")


def check_output(path: PathLike, option: str = "output", *, is_dir: bool = False,
                 make_parents: bool = False) -> Path:
    """Refuse an output path that cannot be written, before any work starts.

    The folder that will hold it must exist (or, with ``make_parents``, its nearest existing
    ancestor) and must take a new file: a hidden probe is created and removed there, so a
    read-only mount, a special file system such as ``/proc`` or a folder without write
    permission is refused now, not after minutes of work. An existing file output must be a
    regular file (never a device or pipe), a folder output a folder.

    >>> check_output("/nonexistent-folder/out.png", "--out")
    Traceback (most recent call last):
    ...
    ValueError: --out: /nonexistent-folder/out.png: folder /nonexistent-folder does not exist
    """
    dest = Path(path)
    if dest.name in ("", ".", ".."):
        raise ValueError(f"{option}: {dest}: not a file name")
    parent = dest.parent if str(dest.parent) else Path(".")
    while make_parents and not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"{option}: {dest}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise ValueError(f"{option}: {dest}: folder {parent} does not exist")
    if dest.is_dir():
        if not is_dir:
            raise ValueError(f"{option}: {dest}: is a folder, not a file")
    elif dest.exists() and is_dir:
        raise ValueError(f"{option}: {dest}: is a file, not a folder")
    elif dest.exists() and not dest.is_file():
        raise ValueError(f"{option}: {dest}: is not a regular file (a device, pipe or socket)")
    _probe(parent, dest, option)
    return dest


def _probe(folder: Path, dest: Path, option: str) -> None:
    """Create and remove a temporary in ``folder``: the one test every file system answers."""
    probe = folder / f".{dest.name}.{_owner()}-{secrets.token_hex(4)}.tmp"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as e:
        raise ValueError(f"{option}: {dest}: folder {folder} does not take new files "
                         f"({_what(e)})") from None
    probe.unlink(missing_ok=True)


# errno -> the words a user reads (never Python's exception class or "[Errno N]").
_ERRNO_WORDS = {
    errno.ENOENT: "no such file or folder", errno.EACCES: "permission denied",
    errno.EPERM: "not permitted", errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "is a folder", errno.ENOTDIR: "not a folder", errno.EEXIST: "already exists",
    errno.ENAMETOOLONG: "name too long", errno.EXDEV: "on another file system",
    errno.ENOTEMPTY: "folder not empty", errno.EIO: "input/output error",
}


def os_words(e: OSError) -> str:
    """What an ``OSError`` means, in a user's words, with the file it names.

    >>> os_words(FileNotFoundError(2, "No such file or directory", "in.png"))
    'in.png: no such file or folder'
    """
    return f"{e.filename}: {_what(e)}" if e.filename else _what(e)


def _what(e: OSError) -> str:
    return _ERRNO_WORDS.get(e.errno or -1) or (e.strerror or str(e) or "cannot be used").lower()


def check_distinct(paths: dict[str, PathLike | None]) -> None:
    """Refuse two options that name the same output file."""
    seen: dict[Path, str] = {}
    for option, p in paths.items():
        if p is None:
            continue
        key = Path(os.path.abspath(p))
        if key in seen:
            raise ValueError(f"{option} and {seen[key]} name the same file: {p}")
        seen[key] = option


def _tmp_name(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{_owner()}-{secrets.token_hex(8)}.tmp{dest.suffix}")


def _owner() -> str:
    return f"{os.getpid()}@{_HOST}"  # the pid of this process, also after a fork


def _owner_gone(tag: str) -> bool:
    """True when ``tag`` (a temporary's name after ``.NAME.``) names a process of this machine
    that no longer runs."""
    m = _OWNER_RE.match(tag.removeprefix("partial-"))
    if m is None or m.group(2) != _HOST or int(m.group(1)) == os.getpid():
        return False
    try:
        os.kill(int(m.group(1)), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by another user
        return False
    return False


@contextlib.contextmanager
def atomic_path(path: PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; publish it at ``path`` only if the block succeeds.

    Write the whole file to the yielded path; on a clean exit it is fsynced and renamed over
    ``path`` (``os.replace``, or a no-clobber hard link when ``overwrite`` is False). On any
    exception the temporary file is removed and ``path`` is left as it was. The temporary keeps
    the destination's suffix, so writers that pick a format from it (Pillow, ``np.savez``,
    PyAV) behave as they would on ``path``.
    """
    with atomic_paths([path], overwrite=overwrite) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(paths: Sequence[PathLike], *, overwrite: bool = True) -> Iterator[list[Path]]:
    """Several files as one product: each is written to its temporary, and all are published
    (renamed into place, in order) only after the whole block succeeded."""
    dests = [Path(p) for p in paths]
    for dest in dests:
        remove_stale(dest)  # temporaries of a run killed long ago
        if not overwrite and dest.exists():
            raise FileExistsError(f"{dest}: exists and overwrite=False")
    tmps: list[Path] = []
    try:
        for dest in dests:
            tmp = _tmp_name(dest)
            try:
                os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            except OSError as e:
                raise OSError(f"{dest}: cannot write ({e.strerror})") from None
            tmps.append(tmp)
        yield list(tmps)
        for tmp in tmps:
            os.chmod(tmp, 0o666 & ~_umask())  # writers that recreate the file may leave 0600
            _fsync(tmp)
        for tmp, dest in zip(tmps, dests, strict=True):
            _publish(tmp, dest, overwrite)
    except BaseException:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        raise
    for parent in {d.parent for d in dests}:
        _fsync_dir(parent)


def atomic_write(path: PathLike, writer: Callable[[Path], object], *,
                 overwrite: bool = True) -> Path:
    """Call ``writer(tmp)`` to write the whole file, then publish it at ``path`` atomically."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        writer(tmp)
    return Path(path)


def write_text(path: PathLike, text: str) -> Path:
    """Atomically write UTF-8 text."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None: JSON has no such numbers.

    >>> finite({"db": float("nan"), "rows": [1.5, float("inf")]})
    {'db': None, 'rows': [1.5, None]}
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def json_text(obj: Any, **kwargs: Any) -> str:
    """Strict JSON text of ``obj`` (non-finite floats as null), newline-terminated."""
    return json.dumps(finite(obj), allow_nan=False, **kwargs) + "\n"


@contextlib.contextmanager
def atomic_dir(path: PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty folder beside ``path``; swap it in as ``path`` when the block succeeds.

    A run killed at any moment leaves either the old folder or the complete new one at
    ``path``, plus hidden leftovers (``.NAME.partial-…``: never published, ``.NAME.old-…``:
    the previous version) that :func:`remove_stale` clears or restores on the next write.
    """
    dest = Path(path)
    remove_stale(dest)
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest}: already exists (overwrite to replace it)")
    tmp = dest.with_name(f".{dest.name}.partial-{_owner()}-{secrets.token_hex(6)}")
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        old = _swap_in(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(dest.parent)


def _swap_in(new: Path, dest: Path) -> Path | None:
    """Publish folder ``new`` as ``dest``; returns where the old folder now is, if any."""
    if not dest.exists():
        os.rename(new, dest)
        return None
    if _exchange(new, dest):
        return new  # the exchange left the old folder under the new one's name
    old = dest.with_name(f".{dest.name}.old-{secrets.token_hex(6)}")
    os.rename(dest, old)  # fallback: a kill between these two renames leaves no dest,
    os.rename(new, dest)  # and remove_stale() renames the old folder back
    return old


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False if unsupported."""
    libc_name = ctypes.util.find_library("c")
    fn = getattr(ctypes.CDLL(libc_name, use_errno=True), "renameat2", None) if libc_name else None
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(rc == 0)


def remove_stale(dest: PathLike, *, max_age_s: float = STALE_SECONDS) -> list[Path]:
    """Clear what a killed run left beside ``dest``; returns the paths removed.

    A missing ``dest`` with an ``.old-`` folder beside it (a kill inside the two-rename
    fallback) gets that folder back. A temporary whose writer (named in it) no longer runs on
    this machine is removed at once; others are left alone until older than ``max_age_s``:
    they may belong to a run still going.
    """
    dest = Path(dest)
    if not dest.parent.is_dir():
        return []
    olds = sorted(dest.parent.glob(f".{dest.name}.old-*"))
    if olds and not dest.exists():
        os.rename(olds.pop(), dest)
    now, removed = time.time(), []
    leftovers = [*olds, *dest.parent.glob(f".{dest.name}.partial-*"),
                 *dest.parent.glob(f".{dest.name}.*.tmp*")]
    for p in leftovers:
        if now - p.lstat().st_mtime < max_age_s and p not in olds and not _owner_gone(p.name[len(dest.name) + 2:]):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    if os.name == "posix":
        _fsync(path)  # make the rename itself durable


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder of a new tree before it is published."""
    for p in sorted(root.rglob("*"), reverse=True):
        if p.is_file():
            _fsync(p)
        elif p.is_dir():
            _fsync_dir(p)
    _fsync_dir(root)


def _publish(tmp: Path, dest: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, dest)
        return
    try:
        os.link(tmp, dest)  # atomic and fails if dest appeared meanwhile
    except FileExistsError:
        raise
    except OSError:  # file systems without hard links: best effort
        if dest.exists():
            raise FileExistsError(f"{dest}: exists and overwrite=False") from None
        os.replace(tmp, dest)
        return
    tmp.unlink()
