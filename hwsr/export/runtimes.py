"""The outside executors that referee an export: onnxruntime and qonnx's own executor.

Each takes a uint8 RGB frame (H, W, 3) and returns the graph's output as NCHW, exactly as
the runtime produced it; :func:`codes_of` turns float outputs into integer codes without any
tolerance (a value that is not an exact integer code is counted, never rounded away).
"""

from __future__ import annotations

import copy
import functools
import platform
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

FrameU8 = npt.NDArray[np.uint8]
ORT_THREADS = 1  # one thread: the check is small, and the fused kernels do not depend on it


def nchw(frame_u8_hwc: FrameU8, dtype: type) -> np.ndarray:
    return np.ascontiguousarray(frame_u8_hwc.transpose(2, 0, 1)[None]).astype(dtype)


def hwc(out_nchw: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(out_nchw[0].transpose(1, 2, 0))


@functools.cache
def ort_u8s8_saturates() -> bool:
    """True on an x86 host without VNNI: there onnxruntime's fused u8 × s8 convolutions add
    two adjacent products in saturating int16 (``vpmaddubsw``), so a pair above 32,767
    (255 · 127 · 2 = 64,770 can occur) is clipped; with AVX-512 VNNI or AVX-VNNI
    (``vpdpbusd``) the products go straight into int32 and the fused layer is exact."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return False
    from hwsr.sim.int8 import host_cpu_features

    features = host_cpu_features()  # empty where unreadable: assume no VNNI
    return not (features.get("avx512vnni", False) or features.get("avxvnni", False))


def ort_session(model: onnx.ModelProto, optimize: bool = True, threads: int = ORT_THREADS) -> Any:
    """An onnxruntime CPU session; ``optimize=False`` runs the graph as written (no fusion)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])


def run_ort(sess: Any, frame_u8_hwc: FrameU8, dtype: type) -> list[np.ndarray]:
    """Every output of an onnxruntime session, for one frame."""
    name = sess.get_inputs()[0].name
    return list(sess.run(None, {name: nchw(frame_u8_hwc, dtype)}))


def with_outputs(model: onnx.ModelProto, names: list[str], elem_type: int) -> onnx.ModelProto:
    """A copy of ``model`` that also outputs the tensors ``names`` (to count per stage)."""
    m = copy.deepcopy(model)
    for n in names:
        m.graph.output.append(onnx.helper.make_tensor_value_info(n, elem_type, None))
    return m


def run_qonnx(model: onnx.ModelProto, frame_u8_hwc: FrameU8) -> np.ndarray:
    """qonnx's executor, after qonnx's cleanup passes fixed the input size to this frame."""
    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # qonnx opens one session per node: no log lines
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.core.onnx_exec import execute_onnx
        from qonnx.util.cleanup import cleanup_model

        h, w, _ = frame_u8_hwc.shape
        mw = cleanup_model(ModelWrapper(copy.deepcopy(model)), override_inpsize=(1, 3, h, w))
        x = nchw(frame_u8_hwc, np.float32)
        out = execute_onnx(mw, {mw.graph.input[0].name: x})
    return np.asarray(out[mw.graph.output[0].name])


def codes_of(out: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes of a float output and how many values were not exact codes 0..255.

    A value that is not an integer in 0..255 becomes -1, so it can never equal a code.
    """
    a = np.asarray(out, dtype=np.float64)
    ok = (a == np.floor(a)) & (a >= 0) & (a <= 255)
    codes = np.where(ok, a, -1).astype(np.int64)
    return codes, int(np.count_nonzero(~ok))
