"""Golden vectors for RTL testbenches: the complete, self-describing stimulus of the engine.

A golden set is a folder (the RTL engineer's guide, file by file, is ``docs/golden.md``)::

    manifest.json                  schema, version, model, stage, tap level, every file's word
                                   width, signedness, word count, checksums and sha256, the
                                   ROM layout and the stage/layer scalars, per-frame counters
    program.npz                    the integer program the vectors were made with
    rom/<S>.layer<i>.weight.hex    ROM images (see :mod:`hwsr.rom`): weights, order c_out,
    rom/<S>.layer<i>.bias.hex      c_in, ky, kx; biases; per-channel shifts
    rom/<S>.layer<i>.shift.hex
    <frame>/input.hex              the frame entering the engine (uint8)
    <frame>/<S>.layer<i>.acc.hex   layer i's accumulator as the requantizer shifts it (--taps acc)
    <frame>/<S>.layer<i>.hex       layer i's requantized output codes (--taps layers, acc)
    <frame>/<S>.out.hex            stage S's output pixels (uint8; net1.out feeds net2)

Every tap comes from the line-buffer simulator as it streams; a set is written only when the
whole-frame integer reference agrees at every tap, and it is built beside its destination and
swapped in whole. ``hwsr golden check`` replays it in the order of :mod:`hwsr.golden.check`.

Modules: ``hexfmt`` (the hex text and its word sums), ``taps`` (tap names and formats, both
executors), ``frames`` (stock frames, crops, the extreme-weights program), ``write``,
``check``, ``cli`` (``hwsr golden``).
"""


from __future__ import annotations

from hwsr.lazy import lazy_exports

# Loaded by name on first use: ``hwsr --help`` must not pay for numpy, numba or torch.
_EXPORTS = {
    "CheckResult": "hwsr.golden.check",
    "GoldenCheckError": "hwsr.golden.check",
    "check_golden": "hwsr.golden.check",
    "STOCK": "hwsr.golden.frames",
    "extreme_program": "hwsr.golden.frames",
    "standard_frames": "hwsr.golden.frames",
    "HexError": "hwsr.golden.hexfmt",
    "WordFormat": "hwsr.golden.hexfmt",
    "parse_text": "hwsr.golden.hexfmt",
    "tap_text": "hwsr.golden.hexfmt",
    "LEVELS": "hwsr.golden.taps",
    "reference_taps": "hwsr.golden.taps",
    "sim_taps": "hwsr.golden.taps",
    "tap_formats": "hwsr.golden.taps",
    "SCHEMA": "hwsr.golden.write",
    "VERSION": "hwsr.golden.write",
    "GoldenError": "hwsr.golden.write",
    "write_golden": "hwsr.golden.write",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
