"""What every comparator shares: the layer's data (Case), the interface (Comparator), SkipLayer.
Kept apart from comparators.py so that comparator modules of their own (comparator_lce.py) and the
registry can import it without importing each other."""
from __future__ import annotations

import contextlib
import importlib
from typing import Callable, Dict, List, Optional

import numpy as np


class SkipLayer(Exception):
    """This comparator does not run this layer (reason in the message)."""


class Case:
    """Everything about one layer's run: shapes, the quantized data, the float twin of it."""

    def __init__(self, layer, *, batch, threads, codes_nchw, qweight, w_bits, w_encoding, a_bits, a_encoding,
                 a_zero_point):
        self.layer = layer
        self.batch = batch
        self.threads = threads
        self.codes_nchw = codes_nchw                      # uint8 [N, C, H, W]
        self.codes_nhwc = np.ascontiguousarray(codes_nchw.transpose(0, 2, 3, 1))
        self.qweight = qweight                            # int8 [Cout, Cin/g, kh, kw]
        self.w_bits = w_bits                              # list of Cout ints
        self.w_encoding = w_encoding
        self.a_bits = a_bits
        self.a_encoding = a_encoding
        self.a_zero_point = a_zero_point
        if a_encoding == "binary":
            v = 2.0 * codes_nchw.astype(np.float32) - 1.0
        else:
            v = codes_nchw.astype(np.float32) - np.float32(a_zero_point)
        self.x_float = np.ascontiguousarray(v, dtype=np.float32)   # activation values, NCHW
        self.w_float = qweight.astype(np.float32)

    @property
    def out_shape(self) -> List[int]:
        """[N, Cout, Ho, Wo] of the layer's output."""
        return [self.batch, self.layer.cout, self.layer.ho, self.layer.wo]

    @property
    def int8_zero_point(self) -> int:
        """Zero point of the uint8 codes fed to the int8 comparators: binary codes {0, 1} stand for
        -1/+1, which no zero point expresses, so they get 0 (the timing is what matters there)."""
        return self.a_zero_point if self.a_encoding == "unsigned" else 0

    def acc_bound(self) -> float:
        """A bound on |acc|, for the int8 comparators' output scale."""
        lay = self.layer
        amax = max(1, 2 ** self.a_bits - 1)
        # int16 first: np.abs of int8 -128 wraps to -128.
        wmax = max(1, int(np.abs(self.qweight.astype(np.int16)).max()))
        return float(lay.cin // lay.groups * lay.kh * lay.kw * amax * wmax)


class Comparator:
    name = ""
    label = ""
    kind = ""           # "fp32", "int8" or "bitserial"
    max_repeat = 0      # cap on timed repetitions (0: none)
    max_warmup = -1     # cap on warm-up calls (-1: none)
    max_seconds = 0.0   # stop repeating after this much timed work (0: no limit)

    def unavailable(self) -> Optional[str]:
        return None

    def versions(self) -> Dict[str, str]:
        return {}

    def prepare(self, case: Case) -> Callable[[], object]:
        raise NotImplementedError

    def limits(self, case: Case):
        """Context manager the harness holds around warm-up and timed calls (e.g. a thread limit
        whose set-up must not be timed)."""
        return contextlib.nullcontext()


def _missing(*modules, hint: str = "install the bench extra: pip install '.[bench]'") -> Optional[str]:
    for m in modules:
        try:
            importlib.import_module(m)
        except Exception as e:  # ImportError, or a broken install
            return f"{m} not importable ({type(e).__name__}: {e}); {hint}"
    return None
