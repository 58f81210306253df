"""The bit-serial algorithm written out in numba: a readable reference for the native kernels.

The maths (DESIGN.md section 3). For output channel k with B bits, write its weights as an
unsigned B-bit number u and an affine map:

    signed: qw = u - 2^(B-1)          (u = qw + 2^(B-1); alpha = 1, beta = 2^(B-1))
    odd:    qw = 2u - (2^B - 1)       (u = (qw + 2^B - 1) / 2; alpha = 2, beta = 2^B - 1)

and, at every tap that lies inside the input, the activation value as an affine map of its code q:

    unsigned: v = q - zp              (gamma = 1, delta = zp)
    binary:   v = 2q - 1              (gamma = 2, delta = 1)

while a padding tap has v = 0. Give padding taps the code q = 0 and sum over the window W (all
taps) and its valid part V (taps inside the input; Cg channels each):

    acc = sum_V (alpha u - beta)(gamma q - delta)
        = alpha gamma sum_W u q  -  alpha delta sum_V u  -  beta gamma sum_W q  +  beta delta |V|

because q = 0 on padding. The first term is the bit-serial core: with u = sum_i 2^i U_i and
q = sum_j 2^j A_j (bit-planes, Cg channels packed into 64-bit words),

    sum_W u q = sum_(i, j) 2^(i+j) popcount(U_i AND A_j)

the window code sum is sum_W q = sum_j 2^j popcount(A_j), and sum_V u is the sum of per-tap
"u summed over input channels" over the valid taps only (it differs from the full-window sum only
at the border). numba is imported here only, lazily, on the first call.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..geometry import output_size
from .int64 import _check_a_bits, _check_a_encoding, _pair

__all__ = ["conv2d_numba"]

_kernel = None

# SWAR popcount constants (module globals: numba freezes them as constants at compile time).
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_S1, _S2, _S4, _S56 = np.uint64(1), np.uint64(2), np.uint64(4), np.uint64(56)

# Replaced by numba.prange / the jitted popcount in _build_kernel(), before compiling.
prange = range


def _popcount_py(x):
    # SWAR popcount: counts per bit pair, per nibble, per byte, then one multiply sums the bytes.
    x = x - ((x >> _S1) & _M1)
    x = (x & _M2) + ((x >> _S2) & _M2)
    x = (x + (x >> _S4)) & _M4
    return np.int64((x * _H01) >> _S56)


_popcount = _popcount_py


def _kernel_py(A, U, tapsum, wbits, alpha, beta, gamma, delta, cg, h, w, sh, sw, ph, pw, dh, dw, ho, wo,
               out):
    # A: uint64 [N, G, a_bits, Hp, Wp, words]  activation bit-planes of the zero-padded codes
    # U: uint64 [Cout, Bmax, kh, kw, words]     weight bit-planes of u
    # tapsum: int64 [Cout, kh, kw]              sum over input channels of u, per tap
    n_img, groups, a_bits = A.shape[0], A.shape[1], A.shape[2]
    words = A.shape[5]
    cout, kh, kw = U.shape[0], U.shape[2], U.shape[3]
    cog = cout // groups
    for nk in prange(n_img * cout):
        n = nk // cout
        k = nk % cout
        g = k // cog
        nb = wbits[k]
        for oh in range(ho):
            for ow in range(wo):
                s_uq = np.int64(0)      # sum_W u q
                s_q = np.int64(0)       # sum_W q
                s_u = np.int64(0)       # sum_V u
                n_valid = np.int64(0)   # valid taps
                for i in range(kh):
                    ip = oh * sh + i * dh          # row in the padded input
                    for j in range(kw):
                        jp = ow * sw + j * dw      # column in the padded input
                        for t in range(words):
                            for b in range(a_bits):
                                a = A[n, g, b, ip, jp, t]
                                s_q += _popcount(a) << b
                                for c in range(nb):
                                    s_uq += _popcount(U[k, c, i, j, t] & a) << (b + c)
                        if 0 <= ip - ph < h and 0 <= jp - pw < w:
                            s_u += tapsum[k, i, j]
                            n_valid += 1
                out[n, k, oh, ow] = (alpha[k] * gamma * s_uq - alpha[k] * delta * s_u
                                     - beta[k] * gamma * s_q + beta[k] * delta * cg * n_valid)


def _build_kernel():
    global prange, _popcount
    import numba

    prange = numba.prange
    _popcount = numba.njit(inline="always", cache=True)(_popcount_py)
    return numba.njit(parallel=True, cache=True)(_kernel_py)


def _pack_planes(x, nbits, words):
    """Bit-planes of the non-negative integers x [..., C] along the last axis, packed little-endian
    into 64-bit words: [nbits, ..., words] uint64 (channels past C are zero bits)."""
    c = x.shape[-1]
    planes = []
    for b in range(nbits):
        bits = ((x >> b) & 1).astype(np.uint8)
        bits = np.concatenate([bits, np.zeros(bits.shape[:-1] + (words * 64 - c,), np.uint8)], axis=-1)
        packed = np.packbits(bits, axis=-1, bitorder="little")
        planes.append(np.ascontiguousarray(packed).view("<u8").astype(np.uint64))
    return np.stack(planes)


def conv2d_numba(codes, qweight, w_bits, *, w_encoding, a_bits, a_encoding="unsigned", a_zero_point=0,
                 stride=1, padding=0, dilation=1, groups=1):
    """Bit-serial conv2d on activation codes; returns the exact int64 accumulators [N, Cout, Ho, Wo].

    codes: integer [N, Cin, H, W] with values < 2^a_bits; qweight: integer [Cout, Cin/groups, kh, kw]
    in range for each channel's bits; w_bits: int or one int per output channel; w_encoding "signed"
    or "odd" (channels with 1 bit always use odd).
    """
    global _kernel
    codes = np.asarray(codes)
    qweight = np.asarray(qweight)
    if codes.ndim != 4 or qweight.ndim != 4:
        raise ValueError("codes and qweight must be 4-D (NCHW and [Cout, Cin/groups, kh, kw])")
    a_bits = _check_a_bits(a_bits)
    _check_a_encoding(a_encoding, a_bits)
    if w_encoding not in ("signed", "odd"):
        raise ValueError(f"w_encoding must be 'signed' or 'odd', got {w_encoding!r}")
    n, cin, h, w = codes.shape
    cout, cg, kh, kw = qweight.shape
    groups = int(groups)
    if groups < 1 or cin % groups or cout % groups or cg != cin // groups:
        raise ValueError(f"groups={groups} does not fit Cin={cin}, Cout={cout}, qweight {qweight.shape}")
    if isinstance(w_bits, (numbers.Integral, np.integer)):
        wb = np.full(cout, int(w_bits), dtype=np.int64)
    else:
        wb = np.asarray(w_bits, dtype=np.int64).reshape(-1)
    if wb.shape != (cout,) or wb.min() < 1 or wb.max() > 8:
        raise ValueError(f"w_bits must be in 1..8, one value or one per output channel, got {w_bits!r}")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    dh, dw = _pair(dilation, "dilation")
    ho = output_size(h, kh, sh, ph, dh)
    wo = output_size(w, kw, sw, pw, dw)
    if ho < 1 or wo < 1:
        raise ValueError("the kernel is larger than the padded input")

    # Weights: qw = alpha * u - beta per channel.
    odd = (wb == 1) | (w_encoding == "odd")
    alpha = np.where(odd, 2, 1).astype(np.int64)
    beta = np.where(odd, (1 << wb) - 1, 1 << (wb - 1)).astype(np.int64)
    qw = qweight.astype(np.int64)
    b4 = beta[:, None, None, None]
    u = np.where(odd[:, None, None, None], (qw + b4) // 2, qw + b4)
    if (u < 0).any() or (u >= (1 << wb)[:, None, None, None]).any() or \
            ((odd[:, None, None, None] & ((qw + b4) % 2 != 0))).any():
        raise ValueError("qweight has values outside the range of their channel's w_bits / w_encoding")
    # Activations: v = gamma * q - delta on valid taps.
    gamma, delta = (2, 1) if a_encoding == "binary" else (1, int(a_zero_point))
    q = codes.astype(np.int64)
    if q.size and (q.min() < 0 or q.max() >= (1 << a_bits)):
        raise ValueError(f"codes must be in [0, 2^a_bits) = [0, {1 << a_bits})")

    words = max(1, -(-cg // 64))
    # U: [Cout, Bmax, kh, kw, words] from u [Cout, Cg, kh, kw] with channels last.
    bmax = int(wb.max())
    U = _pack_planes(np.moveaxis(u, 1, -1), bmax, words)          # [Bmax, Cout, kh, kw, words]
    U = np.ascontiguousarray(np.moveaxis(U, 0, 1))
    tapsum = np.ascontiguousarray(u.sum(axis=1))                    # [Cout, kh, kw]
    # A: [N, G, a_bits, Hp, Wp, words] from zero-padded codes (padding code 0 contributes nothing).
    qp = np.pad(q, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    qp = qp.reshape(n, groups, cg, h + 2 * ph, w + 2 * pw)
    A = _pack_planes(np.moveaxis(qp, 2, -1), a_bits, words)        # [a_bits, N, G, Hp, Wp, words]
    A = np.ascontiguousarray(np.moveaxis(A, 0, 2))

    if _kernel is None:
        _kernel = _build_kernel()
    out = np.zeros((n, cout, ho, wo), dtype=np.int64)
    _kernel(A, U, tapsum, wb, alpha, beta, np.int64(gamma), np.int64(delta), np.int64(cg), np.int64(h),
            np.int64(w), np.int64(sh), np.int64(sw), np.int64(ph), np.int64(pw), np.int64(dh),
            np.int64(dw), np.int64(ho), np.int64(wo), out)
    return out
