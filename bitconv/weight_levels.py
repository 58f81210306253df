"""Float weights to bitconv's integer weight levels (pure numpy)."""
import numpy as np

from .reference.int64 import weight_range


def default_w_encoding(bits) -> str:
    """The encoding when none is given: {-1, +1} ("odd") when every channel has 1 bit, else signed."""
    return "odd" if all(int(b) == 1 for b in bits) else "signed"


def quantize_weights(weight: np.ndarray, bits, encoding: str, w_scale=None) -> tuple:
    """Float weights [Cout, ...] -> (integer weights, per-channel scales), channel k with bits[k]:

    - 1 bit ({-1, +1}): qw = sign(w) (0 counts as +1), scale = mean |w| over the channel.
    - signed: scale = max|w| / (2^(B-1) - 1) (max|w| / 1 at B = 2), qw = clip(rint(w / scale),
      -2^(B-1), 2^(B-1) - 1).
    - odd: scale = max|w| / (2^B - 1), qw = the nearest odd level 2u - (2^B - 1) to w / scale.
    A channel of zeros gets scale 1 (its signed weights are exact zeros; odd levels cannot be 0).
    Given w_scale (one per channel, e.g. from a quantization tool), those scales are used instead.
    """
    cout = weight.shape[0]
    w = weight.astype(np.float64).reshape(cout, -1)
    qw = np.empty(w.shape, dtype=np.int64)
    scale = np.empty(cout)
    for k in range(cout):
        b, row = int(bits[k]), w[k]
        lo, hi = weight_range(b, encoding)
        scale[k] = float(w_scale[k]) if w_scale is not None else _default_scale(row, b, hi)
        if b == 1:
            qw[k] = np.where(row >= 0, 1, -1)
        elif encoding == "signed":
            qw[k] = np.clip(np.rint(row / scale[k]), lo, hi)
        else:  # the nearest odd level 2u - hi
            qw[k] = 2 * np.clip(np.rint((row / scale[k] + hi) / 2), 0, hi) - hi
    return qw.reshape(weight.shape), scale


def _default_scale(row: np.ndarray, b: int, hi: int) -> float:
    """The rule's scale: mean |w| at 1 bit, else max |w| over the top level hi."""
    if b == 1:
        return float(np.mean(np.abs(row))) or 1.0
    amax = float(np.max(np.abs(row)))
    return amax / hi if amax > 0 else 1.0
