"""What a finished run leaves in its folder besides the checkpoint: weights, spec, logs.

A run folder is loadable as a model folder (``hwsr eval --model runs/X``)::

    engine.toml          the trained network's spec (Net2's for the dual modes)
    float.safetensors    float weights; metadata: mode, spec, config, steps, val PSNR
    quant.safetensors    Brevitas QAT state (dual modes with a QAT phase)
    program.npz          the lowered integer program of that state
    metrics.jsonl        one JSON record per logged step or validation
    result.json          the summary printed by ``hwsr train``
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwsr.atomic import json_text, write_text
from hwsr.spec import EngineSpec, spec_to_dict

METRICS_FILE = "metrics.jsonl"
RESULT_FILE = "result.json"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(str(v))  # a TOML basic string is a JSON string for these names


def spec_toml(spec: EngineSpec, comment: str = "") -> str:
    """The TOML text of ``spec`` (loads back equal with `hwsr.spec.load_spec`)."""
    d = spec_to_dict(spec)
    lines = [f"# {comment}", ""] if comment else []
    for table in ("engine", "datapath"):
        lines.append(f"[{table}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in d[table].items()]
        lines.append("")
    for layer in d["layers"]:
        lines.append("[[layers]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in layer.items()]
        lines.append("")
    return "\n".join(lines)


def append_metrics(folder: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to the run's metrics log."""
    with open(Path(folder) / METRICS_FILE, "a", encoding="utf-8") as fh:
        fh.write(json_text(record, sort_keys=True))


def truncate_metrics(folder: Path, step: int) -> None:
    """Drop records past ``step`` (written after the checkpoint a resumed run starts from)."""
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        return
    kept = [ln for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and json.loads(ln).get("step", 0) <= step]
    write_text(path, "".join(ln + "\n" for ln in kept))


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    """Every record of a run's metrics log, in order."""
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        return []
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
