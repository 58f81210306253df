"""bitconv: bit-serial mixed-precision conv2d on CPUs (AVX2, AVX-512 VPOPCNTDQ, NEON)."""
__version__ = "0.1.0"

from .plan import LayerBits, Plan, PlanError, example_plan, load_plan

_NATIVE_API = ("ConvPlan", "conv2d", "quantize", "available_isas", "compiled_isas", "get_isa", "set_isa")


def __getattr__(name):
    # The conv API needs the compiled extension; plans load without it.
    if name in _NATIVE_API:
        from . import conv

        value = getattr(conv, name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'bitconv' has no attribute {name!r}")


__all__ = [*_NATIVE_API, "Plan", "LayerBits", "PlanError", "load_plan", "example_plan", "__version__"]
