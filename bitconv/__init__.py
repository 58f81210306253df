"""bitconv: bit-serial mixed-precision conv2d on CPUs (AVX2, AVX-512 VPOPCNTDQ, NEON)."""
__version__ = "0.1.0"

from .conv import ConvPlan, available_isas, compiled_isas, conv2d, get_isa, quantize, set_isa

__all__ = ["ConvPlan", "conv2d", "quantize", "available_isas", "compiled_isas", "get_isa", "set_isa",
           "__version__"]
