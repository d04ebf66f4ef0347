"""Process memory readings and the run's peak: the highest of every reading the agent takes.

Readings are the current RSS (`/proc/self/statm`), the kernel's own high-water mark for this
process image (`VmHWM` in `/proc/self/status`, reset at the start of the window where the
kernel allows it) and `ru_maxrss`. The peak is never below any figure the same run reports.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Callable

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        try:
            import psutil

            return int(psutil.Process().memory_info().rss)
        except ImportError:
            return maxrss_bytes()


def maxrss_bytes() -> int:
    """ru_maxrss is KiB on Linux and bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def high_water_mark_bytes() -> int | None:
    """The kernel's peak RSS of this process image (Linux `VmHWM`); None where unreadable.

    Unlike ru_maxrss it starts afresh at execve, so it is never the parent's figure.
    """
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_high_water_mark() -> bool:
    """Set VmHWM back to the current RSS (Linux 4.0+, `clear_refs` 5); False where refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakRss:
    """The highest of all memory readings taken inside one measurement window.

    The window opens at `open_window()` (just before the model is loaded). The kernel's
    high-water marks (VmHWM, ru_maxrss) count once they rise above their value at that
    moment, so neither an inherited parent peak nor an import before the window leaks in,
    and a peak between two samples is still caught.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes = 0
        self.readings = 0
        self.hwm_reset = False
        self._hwm_at_open: int | None = None
        self._maxrss_at_open = 0

    def open_window(self) -> int:
        """Start the window; returns the current RSS (the before-load reading)."""
        self.hwm_reset = reset_high_water_mark()
        self._hwm_at_open = high_water_mark_bytes()
        self._maxrss_at_open = maxrss_bytes()
        with self._lock:
            self.bytes = 0
            self.readings = 0
        return self.read()

    def observe(self, rss_bytes: int | None) -> None:
        if rss_bytes is None:
            return
        with self._lock:
            self.readings += 1
            if rss_bytes > self.bytes:
                self.bytes = rss_bytes

    def read(self) -> int:
        """Take one reading of every source; returns the current RSS."""
        rss = current_rss_bytes()
        self.observe(rss)
        hwm = high_water_mark_bytes()
        if hwm is not None and (self._hwm_at_open is None or hwm > self._hwm_at_open):
            self.observe(hwm)
        maxrss = maxrss_bytes()
        if maxrss > self._maxrss_at_open:
            self.observe(maxrss)
        return rss


class MemorySampler(threading.Thread):
    """Reads RSS every `interval_s` into `peak`; reports a reading every `report_every_s`."""

    def __init__(
        self,
        interval_s: float,
        report: Callable[[float, int], None],
        peak: PeakRss,
        report_every_s: float = 0.1,
    ) -> None:
        super().__init__(name="edgebench-memory", daemon=True)
        self.interval_s = max(interval_s, 0.001)
        self.report_every_s = report_every_s
        self.peak = peak
        self._report = report
        self._stop_event = threading.Event()
        self._t0 = time.perf_counter()

    def run(self) -> None:
        last_report = 0.0
        while not self._stop_event.wait(self.interval_s):
            rss = current_rss_bytes()
            self.peak.observe(rss)
            now = time.perf_counter() - self._t0
            if now - last_report >= self.report_every_s:
                last_report = now
                self._report(now, rss)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=1.0)
