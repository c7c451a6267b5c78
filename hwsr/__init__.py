"""hwsr: dual-stage super-resolution for a line-buffer SR engine in silicon.

Train the engine's network, quantize it to the fixed-point datapath (Brevitas), lower it to
an integer program, simulate the engine bit for bit, and report what the silicon costs.
See the package README for the module map.
"""

__version__ = "0.1.0"
