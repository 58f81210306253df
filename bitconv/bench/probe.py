"""The machine's ceilings: `bitconv._native.run_probe`, cached per process and in a file.

The file cache lives in $BITCONV_CACHE_DIR, else $XDG_CACHE_HOME/bitconv or ~/.cache/bitconv
(probe.json), keyed by CPU model, bitconv version, the native module's build (file mtime) and ISA,
so `bitconv bench` does not re-measure on every run. A cached result is used only if it measured at
least as long as asked.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from pathlib import Path
from typing import Optional

_PROCESS_CACHE: dict = {}
CACHE_VERSION = 2   # 2: the build moved to the end of the key


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cache_dir() -> Path:
    env = os.environ.get("BITCONV_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bitconv"


def _cache_key(isa: str) -> str:
    import bitconv
    from bitconv import _native

    # A rebuilt extension (same version, new kernels or flags) must re-probe. The build goes last so
    # that "same key but the build" is a plain prefix comparison (_stale_keys).
    build = os.stat(_native.__file__).st_mtime_ns
    return "|".join([f"v{CACHE_VERSION}", cpu_model(), platform.machine(), f"bitconv {bitconv.__version__}",
                     isa, str(build)])


def _key_version(k: str) -> int:
    """A key's cache version ("vN|..."); 0 for keys written before versions were kept."""
    head = k.partition("|")[0]
    return int(head[1:]) if head[:1] == "v" and head[1:].isdigit() else 0


def _stale_keys(key: str, d: dict) -> list:
    """Keys of d never matched again: other builds of key (they differ only in the build field) and
    entries of earlier cache versions. Later versions' entries are kept: a newer bitconv sharing the
    cache file still reads them."""
    rest = key.rpartition("|")[0]
    return [k for k in d if k != key and (k.rpartition("|")[0] == rest or _key_version(k) < CACHE_VERSION)]


def _long_enough(hit, seconds: float) -> bool:
    """A cached result answers a request only if it measured at least `seconds` (a shorter probe is
    noisier than the caller asked for)."""
    return (isinstance(hit, dict) and hit.get("binary_macs_per_second", 0) > 0
            and float(hit.get("probe_seconds", 0.0)) >= float(seconds))


def _read_file_cache() -> dict:
    try:
        with open(cache_dir() / "probe.json") as f:
            d = json.load(f)
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_file_cache(key: str, result: dict) -> None:
    try:
        d = _read_file_cache()
        for k in _stale_keys(key, d):
            del d[k]
        d[key] = result
        path = cache_dir()
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / f"probe.json.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(d, f, indent=1)
        os.replace(tmp, path / "probe.json")
    except OSError:
        pass  # a read-only home is no reason to fail a benchmark


def measure(isa: str = "", seconds: float = 0.2) -> dict:
    """A fresh measurement on the calling thread (no cache). isa "" = the active ISA."""
    from bitconv import _native, get_isa

    isa = isa or get_isa()
    r = dict(_native.run_probe(isa, float(seconds)))
    r.setdefault("binary_kernel", "")
    r.setdefault("cycles_per_second", 0.0)
    r["isa"] = isa
    r["probe_seconds"] = float(seconds)
    r["cpu_model"] = cpu_model()
    r["measured_at"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return r


def get_probe(isa: str = "", seconds: float = 0.2, *, refresh: bool = False) -> dict:
    """The probe result for `isa` (default: the active ISA) measured for at least `seconds`: from the
    process cache, else the file cache, else measured now and stored in both (refresh: always
    measured). Adds "cached": "process" | "file" | False."""
    from bitconv import get_isa

    isa = isa or get_isa()
    key = _cache_key(isa)
    if not refresh:
        hit = _PROCESS_CACHE.get(key)
        if _long_enough(hit, seconds):
            return dict(hit, cached="process")
        hit = _read_file_cache().get(key)
        if _long_enough(hit, seconds):
            _PROCESS_CACHE[key] = hit
            return dict(hit, cached="file")
    r = measure(isa, seconds)
    _PROCESS_CACHE[key] = r
    _write_file_cache(key, r)
    return dict(r, cached=False)


def bitserial_ceiling(probe: dict, w_bits: float, a_bits: float, cores: int = 1) -> float:
    """MACs per second a w-bit x a-bit layer can reach at best: rate / (w * a), per core x cores."""
    return probe["binary_macs_per_second"] * cores / (float(w_bits) * float(a_bits))


def ceiling_table(probe: dict, cores: int = 1) -> list:
    """8 x 8 list: [w-1][a-1] -> bit-serial ceiling in MACs per second."""
    return [[bitserial_ceiling(probe, w, a, cores) for a in range(1, 9)] for w in range(1, 9)]


def format_probe(probe: dict, available: Optional[list] = None) -> str:
    """The human-readable report of `bitconv probe`."""
    b = probe["binary_macs_per_second"]
    i8 = probe.get("int8_macs_per_second", 0.0)
    hz = probe.get("cycles_per_second", 0.0)
    lines = [f"CPU: {probe.get('cpu_model', cpu_model())}"]
    isa_line = f"ISA: {probe['isa']}"
    if available:
        isa_line += f" (available: {', '.join(available)})"
    lines.append(isa_line)
    if hz > 0:
        lines.append(f"clock (dependent-add chain): {hz / 1e9:.2f} GHz")
    per_cycle = f", {b / hz:.0f} per cycle" if hz > 0 else ""
    kern = f" [{probe['binary_kernel']}]" if probe.get("binary_kernel") else ""
    lines.append(f"binary AND+popcount: {b / 1e9:,.0f} G binary MAC/s per core{per_cycle}{kern}")
    if i8 > 0:
        per_cycle = f", {i8 / hz:.0f} per cycle" if hz > 0 else ""
        lines.append(f"int8 dot product:    {i8 / 1e9:,.0f} G int8 MAC/s per core{per_cycle} "
                     f"[{probe.get('int8_instruction', '')}]")
    else:
        lines.append("int8 dot product:    none on this CPU (no VNNI / dot-product instruction)")
    lines.append("")
    lines.append("bit-serial ceiling per core, G MAC/s = binary rate / (w x a)"
                 + ("; * = above the int8 ceiling" if i8 > 0 else ""))
    lines.append("w\\a " + "".join(f"{a:>8d}" for a in range(1, 9)))
    for w in range(1, 9):
        cells = []
        for a in range(1, 9):
            c = bitserial_ceiling(probe, w, a)
            mark = "*" if i8 > 0 and c > i8 else " "
            cells.append(f"{c / 1e9:>7,.0f}{mark}")
        lines.append(f"{w:>3d} " + "".join(cells))
    if i8 > 0:
        lines.append(f"int8 ceiling: {i8 / 1e9:,.0f} G MAC/s per core; bit-serial wins where w x a < "
                     f"{b / i8:.1f}")
    return "\n".join(lines)
