"""`hwsr golden` as a user runs it: bad input refused in one line, atomic rewrites, and a
plain Verilog testbench loading the committed vectors with $readmemh."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hwsr.cli import main
from hwsr.golden import GoldenCheckError, check_golden, standard_frames, write_golden
from hwsr.zoo import load_engine

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("golden") / "set"
    write_golden(load_engine("hwsr-s").program(), standard_frames(3, 2, names=("noise",)), out,
                 model="hwsr-s")
    return out


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], match: str) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err, err


def test_cli_write_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v"
    assert main(["golden", "write", "--out", str(out), "--taps", "io", "--width", "3",
                 "--height", "2", "--stock", "pattern,tiny1x3",
                 "--frame", f"{ROOT}/models/hwsr-s/crf24-path.png:10,10,4,3"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert [f["name"] for f in m["frames"]] == ["pattern", "tiny1x3", "crf24-path-4x3"]
    assert sorted(p.name for p in (out / "pattern").iterdir()) == \
        ["input.hex", "net1.out.hex", "net2.out.hex"]
    assert main(["golden", "check", str(out)]) == 0
    assert "bit-exact" in capsys.readouterr().out


def test_bad_write_requests_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v"
    base = ["golden", "write", "--out", str(out), "--width", "2", "--height", "2"]
    _refused([*base, "--model", "no-such-model"], capsys, "no-such-model")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    _refused([*base, "--frame", str(bad)], capsys, "bad.png")
    _refused([*base, "--frame", f"{ROOT}/models/hwsr-s/crf24-path.png:0,0,9999,2"], capsys,
             "leaves the 1224x240 image")
    _refused([*base, "--stock", "pattern,nope"], capsys, "--stock: unknown frame 'nope'")
    _refused([*base[:2], "--out", str(tmp_path / "missing" / "v")], capsys, "does not exist")
    assert sorted(tmp_path.iterdir()) == [bad]


@pytest.mark.parametrize(("edit", "match"), [
    (lambda m, d: m.update(version=3), "newer than this hwsr reads"),
    (lambda m, d: m.pop("rom"), "missing key 'rom'"),
    (lambda m, d: m["frames"][0].pop("width"), "frames[0]: missing key 'width'"),
    (lambda m, d: m["files"].update({"../x.hex": m["files"]["noise/input.hex"]}),
     "lies outside the set"),
    (lambda m, d: (d / "noise" / "net1.layer1.hex").write_text(
        (d / "noise" / "net1.layer1.hex").read_text().rsplit("\n", 2)[0] + "\n"),
     "noise/net1.layer1.hex: 100 words, manifest says 120"),
    (lambda m, d: (d / "rom" / "net1.layer2.bias.hex").write_text(
        (d / "rom" / "net1.layer2.bias.hex").read_text().replace("\n", "\n12g4\n", 1)),
     "rom/net1.layer2.bias.hex: line 2, word 0: '12g4' is not a 4-digit hex word"),
    (lambda m, d: (d / "noise" / "net2.out.hex").unlink(), "noise/net2.out.hex: missing"),
])
def test_bad_sets_fail_check_in_one_line(tiny_set: Path, tmp_path: Path, edit, match: str,  # type: ignore[no-untyped-def]
                                         capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "set"
    shutil.copytree(tiny_set, work)
    m = json.loads((work / "manifest.json").read_text())
    edit(m, work)
    (work / "manifest.json").write_text(json.dumps(m))
    before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    _refused(["golden", "check", str(work)], capsys, match)
    assert {p: p.read_bytes() for p in work.rglob("*") if p.is_file()} == before


_WRITER = """
import sys
from hwsr.golden import standard_frames, write_golden
from hwsr.zoo import load_engine
name = sys.argv[2]
write_golden(load_engine("hwsr-s").program(), standard_frames(4, 3, names=(name,)),
             sys.argv[1], model="hwsr-s", overwrite=True)
"""


def test_a_killed_rewrite_leaves_the_old_set_or_the_new(tiny_set: Path, tmp_path: Path) -> None:
    dest = tmp_path / "set"
    shutil.copytree(tiny_set, dest)
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", _WRITER, str(dest), "zeros"], cwd=ROOT, check=True)
    duration = time.monotonic() - start  # kill points spread over a whole run, swap included
    rng = np.random.default_rng(12)
    seen = set()
    for i, delay in enumerate(rng.uniform(0.2 * duration, 1.05 * duration, 4)):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(dest),
                                 ("full", "zeros")[i % 2]], cwd=ROOT)
        deadline = time.monotonic() + delay
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        check_golden(dest)  # the survivor is whole
        seen.add(json.loads((dest / "manifest.json").read_text())["frames"][0]["name"])
    assert seen <= {"noise", "zeros", "full"}
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["set"]


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_a_verilog_testbench_reads_the_vectors(tmp_path: Path) -> None:
    """$readmemh the input, one ROM image and the output; counts and checksums must equal
    the manifest's."""
    set_dir = ROOT / "golden" / "hwsr-s"
    m = json.loads((set_dir / "manifest.json").read_text())
    files = ["pattern/input.hex", "rom/net2.layer2.weight.hex", "pattern/net2.out.hex"]
    decls, body = [], []
    for k, rel in enumerate(files):
        e = m["files"][rel]
        depth = e["words"] + 16  # room to show that nothing beyond the file is loaded
        decls.append(f"reg [{e['word_bits'] - 1}:0] m{k} [0:{depth - 1}];")
        body.append(f'$readmemh("{set_dir / rel}", m{k}); n = 0; s = 0;\n'
                    f"for (i = 0; i < {depth}; i = i + 1) if (^m{k}[i] !== 1'bx) "
                    f"begin n = n + 1; s = s + m{k}[i]; end\n"
                    f'$display("{rel} %0d %0d", n, s);')
    tb = tmp_path / "tb.v"
    tb.write_text("module tb;\ninteger i, n; reg [31:0] s;\n" + "\n".join(decls)
                  + "\ninitial begin\n" + "\n".join(body) + "\n$finish;\nend\nendmodule\n")
    subprocess.run(["iverilog", "-o", str(tmp_path / "tb.vvp"), str(tb)], check=True)
    run = subprocess.run(["vvp", "-n", str(tmp_path / "tb.vvp")], check=True,
                         capture_output=True, text=True)
    got = {ln.split()[0]: ln.split()[1:] for ln in run.stdout.splitlines() if " " in ln}
    for rel in files:
        e = m["files"][rel]
        assert got[rel] == [str(e["words"]), str(e["checksum"])], (rel, run.stdout)


def test_check_names_a_model_that_cannot_be_found(tiny_set: Path, tmp_path: Path) -> None:
    work = tmp_path / "set"
    shutil.copytree(tiny_set, work)
    m = json.loads((work / "manifest.json").read_text())
    m["model"] = "gone-model"
    (work / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(GoldenCheckError, match="made from model 'gone-model', which cannot be"):
        check_golden(work)
    assert check_golden(work, model="hwsr-s").model == "hwsr-s"
