"""Photos decoded ahead, in threads, while the previous ones are detected and labelled.

:class:`~adiencekit.inference.Predictor` labels a folder photo by photo: decode, detect,
label. Pillow releases the GIL while it decodes, and the detector and the model release it
while they compute, so a decode thread running a few photos ahead overlaps the two on a
machine with a core to spare. :func:`read_ahead` yields the photos in their order, each as
its decoded array or the :class:`~adiencekit.inference.images.ImageReadError` that reading
it raised; :func:`default_decode_workers` gives the threads a process should use: none on
one core (decoding ahead would only take turns with the compute), one per spare core
otherwise, at most two.

Example:

>>> import numpy as np
>>> from adiencekit.inference.read_ahead import read_ahead
>>> array = np.zeros((4, 4, 3), np.uint8)
>>> [(type(item).__name__, type(image).__name__) for item, image in read_ahead([array, "missing.jpg"], workers=1)]
[('ndarray', 'ndarray'), ('str', 'ImageReadError')]
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from adiencekit.inference.images import ImageReadError, as_rgb_array, read_image

__all__ = ["default_decode_workers", "read_ahead", "usable_cores"]

#: Photos decoded ahead per worker thread: enough to hide one slow file, few enough to
#: keep memory small (a 12-megapixel photo is 36 MB decoded).
AHEAD_PER_WORKER = 2


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS says it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_decode_workers(cores: int | None = None) -> int:
    """Decode threads for ``cores`` usable cores: ``min(2, cores - 1)``, so 0 on one core.

    Example:

    >>> from adiencekit.inference.read_ahead import default_decode_workers
    >>> [default_decode_workers(n) for n in (1, 2, 4, 16)]
    [0, 1, 2, 2]
    """
    cores = usable_cores() if cores is None else cores
    return max(0, min(2, cores - 1))


def _decode(item: Any) -> np.ndarray | ImageReadError:
    if isinstance(item, (str, os.PathLike)):
        try:
            return read_image(item)
        except ImageReadError as error:
            return error
    return as_rgb_array(item)


def read_ahead(items: Iterable[Any], workers: int) -> Iterator[tuple[Any, np.ndarray | ImageReadError]]:
    """``(item, decoded array or ImageReadError)`` per item, in order.

    Args:
        items: paths and/or arrays (arrays are passed through :func:`as_rgb_array`).
        workers: decode threads; 0 decodes each item when it is reached. With threads,
            up to ``workers * AHEAD_PER_WORKER`` photos are decoded ahead of the one yielded.

    Yields:
        Each item with its decoded ``(H, W, 3)`` ``uint8`` array, or the error reading it.
    """
    if workers < 0:
        raise ValueError(f"workers must be 0 or more, got {workers!r}")
    if workers == 0:
        for item in items:
            yield item, _decode(item)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="adiencekit-decode") as pool:
        source = iter(items)
        window: deque[tuple[Any, Future[np.ndarray | ImageReadError]]] = deque()

        def refill() -> None:
            while len(window) < workers * AHEAD_PER_WORKER:
                try:
                    item = next(source)
                except StopIteration:
                    return
                window.append((item, pool.submit(_decode, item)))

        refill()
        while window:
            item, future = window.popleft()
            refill()
            yield item, future.result()
