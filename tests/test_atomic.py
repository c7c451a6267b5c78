"""The atomic-output helpers: files, multi-file products, folders swapped in, kills survived."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from hwsr.atomic import (
    atomic_dir,
    atomic_paths,
    check_distinct,
    check_output,
    json_text,
    remove_stale,
)


def test_check_output_refusals(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"--out: .*missing/o.png: folder .*missing does not exist"):
        check_output(tmp_path / "missing" / "o.png", "--out")
    with pytest.raises(ValueError, match="is a folder, not a file"):
        check_output(tmp_path, "--out")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        check_output(tmp_path / "f", "--out", is_dir=True)
    assert check_output(tmp_path / "new.png") == tmp_path / "new.png"
    with pytest.raises(ValueError, match="--report and --out name the same file"):
        check_distinct({"--out": tmp_path / "a", "--report": tmp_path / "." / "a"})


def test_multi_file_product_is_all_or_nothing(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    with pytest.raises(RuntimeError), atomic_paths([a, b]) as (ta, tb):
        ta.write_text("new a")
        tb.write_text("new b")
        raise RuntimeError("crash before publishing")
    assert a.read_text() == "old a" and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # no temporaries left
    with atomic_paths([a, b]) as (ta, tb):
        ta.write_text("new a")
        tb.write_text("new b")
    assert (a.read_text(), b.read_text()) == ("new a", "new b")


def test_folder_swap_and_refusal(tmp_path: Path) -> None:
    dest = tmp_path / "set"
    with atomic_dir(dest) as d:
        (d / "v").write_text("1")
    with pytest.raises(FileExistsError), atomic_dir(dest):
        pass
    with pytest.raises(RuntimeError), atomic_dir(dest, overwrite=True) as d:
        (d / "v").write_text("2")
        raise RuntimeError("crash while building")
    assert (dest / "v").read_text() == "1"
    with atomic_dir(dest, overwrite=True) as d:
        (d / "v").write_text("2")
    assert (dest / "v").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_stale_leftovers_are_restored_or_removed(tmp_path: Path) -> None:
    dest = tmp_path / "set"
    old = tmp_path / ".set.old-abc"  # a kill between the fallback's two renames
    old.mkdir()
    (old / "v").write_text("1")
    partial = tmp_path / ".set.partial-def"
    partial.mkdir()
    tmp_file = tmp_path / ".out.png.0123.tmp.png"
    tmp_file.write_bytes(b"half")
    remove_stale(dest, max_age_s=0)
    assert (dest / "v").read_text() == "1" and not partial.exists()
    remove_stale(tmp_path / "out.png", max_age_s=3600)
    assert tmp_file.exists()  # young: may belong to a run still going
    remove_stale(tmp_path / "out.png", max_age_s=0)
    assert not tmp_file.exists()


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from hwsr.atomic import atomic_dir
    version = sys.argv[2]
    with atomic_dir(Path(sys.argv[1]), overwrite=True) as d:
        print("building", flush=True)
        for i in range(40):
            (d / f"f{i:02d}").write_text(version * 1000)
            time.sleep(0.002)
""")


def _version_of(folder: Path) -> str:
    files = sorted(folder.iterdir())
    texts = {f.read_text() for f in files}
    assert len(files) == 40 and len(texts) == 1, f"a mix or a partial folder: {len(files)} files"
    return texts.pop()[0]


def test_killed_writer_leaves_old_or_new_never_a_mix(tmp_path: Path) -> None:
    """SIGKILL a folder writer at random moments while it builds (over 0.08 s) or just after:
    the survivor is always one complete version, and the leftovers are cleared."""
    dest = tmp_path / "set"
    subprocess.run([sys.executable, "-c", WRITER, str(dest), "a"], check=True)
    rng = np.random.default_rng(0)
    killed_mid_build = 0
    for n in range(12):
        before = _version_of(dest)
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(dest), "bc"[n % 2]],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline() == "building\n"
        time.sleep(float(rng.uniform(0.0, 0.1)))  # the build takes >= 80 ms of sleeps alone
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        leftovers = remove_stale(dest, max_age_s=0)
        killed_mid_build += bool(leftovers) and _version_of(dest) == before
        assert not [p for p in tmp_path.iterdir() if p.name != "set"], os.listdir(tmp_path)
    assert killed_mid_build >= 3, "the kills never landed while the new folder was built"


def test_json_never_holds_nan_or_inf() -> None:
    import json

    text = json_text({"val_psnr_db": float("nan"), "gain": [float("-inf"), 0.25]})
    assert json.loads(text) == {"val_psnr_db": None, "gain": [None, 0.25]}
    assert "NaN" not in text and "Infinity" not in text


def test_a_dead_writers_temporaries_go_at_once_a_live_ones_stay(tmp_path: Path) -> None:
    """Temporaries name their writer (pid@host): those of a process that has ended on this
    machine are removed by the next write however young; a live writer's, or another
    machine's, stay until stale."""
    from hwsr.atomic import _HOST, remove_stale

    dead = _finished_pid()
    dest = tmp_path / "g"
    names = {
        "dead": f".g.partial-{dead}@{_HOST}-abc123",
        "dead-file": f".g.{dead}@{_HOST}-0011223344556677.tmp",
        "live": f".g.partial-{os.getppid()}@{_HOST}-abc123",
        "other-host": f".g.partial-{dead}@{'0' * 6 if _HOST != '0' * 6 else '1' * 6}-abc123",
    }
    for key, name in names.items():
        if key == "dead-file":
            (tmp_path / name).write_text("x")
        else:
            (tmp_path / name).mkdir()
    removed = {p.name for p in remove_stale(dest)}
    assert removed == {names["dead"], names["dead-file"]}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [names["live"], names["other-host"]])


def _finished_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
