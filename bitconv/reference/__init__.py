"""Reference implementations of the conv2d contract (DESIGN.md section 2).

``int64`` is a plain numpy int64 oracle; ``numba_bitserial`` (imported on demand, it needs numba)
writes the bit-serial algorithm out in Python.
"""
from .int64 import (activation_values, conv2d_int64, output_size, quantize_activations, scale_output,
                    weight_range)

__all__ = ["quantize_activations", "activation_values", "conv2d_int64", "output_size", "scale_output",
           "weight_range"]
