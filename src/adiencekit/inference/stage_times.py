"""Where a photo's time goes: seconds per stage of the per-photo path, when asked.

The per-photo path (decode, detection's stages, alignment, the model) marks each stage
with :func:`stage`. Nothing is recorded unless a :class:`StageTimes` is active (``with
StageTimes() as times: ...``); then every marked stage adds its seconds and a call to
``times``. A stage inside another is recorded under both, so a report sums the
innermost stages and calls the rest of the outer one overhead (see
``benchmarks/bench_photos.py --stages``).

Example:

>>> import time
>>> from adiencekit.inference.stage_times import StageTimes, stage
>>> with stage("decode"):  # no StageTimes active: nothing is recorded
...     pass
>>> with StageTimes() as times:
...     with stage("decode"):
...         time.sleep(0.001)
...     with stage("decode"):
...         pass
>>> times.calls["decode"], times.seconds["decode"] >= 0.001
(2, True)
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

__all__ = ["StageTimes", "stage"]

_ACTIVE: ContextVar[StageTimes | None] = ContextVar("adiencekit_stage_times", default=None)


class StageTimes:
    """Seconds and calls per stage name, summed while this object is active (a context manager).

    Attributes:
        seconds: ``{stage: seconds}`` summed over the calls.
        calls: ``{stage: calls}``.
    """

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: defaultdict[str, int] = defaultdict(int)
        self._token: Token[StageTimes | None] | None = None

    def add(self, name: str, seconds: float) -> None:
        """Record one call of ``name`` that took ``seconds``."""
        self.seconds[name] += seconds
        self.calls[name] += 1

    def __enter__(self) -> StageTimes:
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None:
            _ACTIVE.reset(self._token)
            self._token = None


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Mark a stage of the per-photo path: its time goes to the active :class:`StageTimes`, if any."""
    times = _ACTIVE.get()
    if times is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        times.add(name, time.perf_counter() - start)
