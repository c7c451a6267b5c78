"""Brevitas quantization of the engine: quantizer recipes, the quant model, calibration."""

from hwsr.quant.model import QuantEngineNet, build_quant_dual

__all__ = ["QuantEngineNet", "build_quant_dual"]
