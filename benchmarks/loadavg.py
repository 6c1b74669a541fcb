"""What the machine was doing during a benchmark: the 1-minute load average sampled in a background thread (the
benchmarks run on shared machines, and every figure in docs/benchmarks.md states its load)."""

from __future__ import annotations

import os
import threading

__all__ = ["LoadSampler"]


class LoadSampler:
    """1-minute load average sampled every ``every`` seconds while the ``with`` body runs."""

    def __init__(self, every: float = 2.0):
        self.every, self.samples = every, []
        self._stop = threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict:
        s = self.samples
        return {"mean": round(sum(s) / len(s), 2), "min": round(min(s), 2), "max": round(max(s), 2), "samples": len(s)}
