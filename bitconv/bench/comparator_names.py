"""The comparators' names (comparators.py builds them): the default list, then the optional heavy
peers. No imports, so the command line lists them without loading numpy."""
DEFAULT = ("numpy", "ort-fp32", "ort-int8", "torch-fp32", "torch-int8", "numba")
OPTIONAL = ("lce",)  # TensorFlow: only when asked for
