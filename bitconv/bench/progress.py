"""A hand-written progress bar on stderr, shown only on a terminal (or when forced)."""
from __future__ import annotations

import os
import sys
import time


class Progress:
    def __init__(self, total: int, *, enabled=None, stream=None, width: int = 24):
        self.stream = stream or sys.stderr
        if enabled is None:
            env = os.environ.get("BITCONV_PROGRESS", "")
            enabled = env not in ("", "0") or (hasattr(self.stream, "isatty") and self.stream.isatty())
        self.enabled = bool(enabled)
        self.total = max(1, total)
        self.done = 0
        self.width = width
        self.t0 = time.perf_counter()
        self._last_len = 0

    def update(self, what: str = "", advance: int = 0) -> None:
        self.done = min(self.total, self.done + advance)
        if not self.enabled:
            return
        frac = self.done / self.total
        fill = int(round(frac * self.width))
        bar = "#" * fill + "." * (self.width - fill)
        el = time.perf_counter() - self.t0
        line = f"\r[{bar}] {self.done}/{self.total} {el:5.0f}s {what}"[:120]
        pad = max(0, self._last_len - len(line))
        self.stream.write(line + " " * pad)
        self.stream.flush()
        self._last_len = len(line)

    def close(self) -> None:
        if self.enabled and self._last_len:
            self.stream.write("\r" + " " * self._last_len + "\r")
            self.stream.flush()
        self._last_len = 0
