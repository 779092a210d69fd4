"""The garbage collector tuned for a service's allocation pattern (every ebaysync service calls
:func:`tune_collector` when it is built).

CPython runs a young collection every 700 net allocations of container objects, and a full one
whenever enough survivors piled up; each full collection walks every tracked object, and a
service holds a few hundred thousand that live as long as the process (modules, pydantic and
SQLAlchemy metadata, FastStream's handlers). A window or a tick allocates many thousand
short-lived objects (messages, rows, spans), almost all freed by their reference count, so most
collections find nothing to free. Measured on reading the 100,000 pairs of the scheduler's
full plan (scripts/bench_plan.py's seed): 310-420 ms of its 660-800 ms of CPU went to
collections; with young collections every :data:`YOUNG_THRESHOLD` allocations, 45-80 ms.

Reference cycles are still collected, a little later. (``gc.freeze`` would spare the full
collections the long-lived objects as well, but frozen cycles are never freed, and tests build
many services in one process.)
"""

from __future__ import annotations

import gc

# Net container allocations between two young collections (CPython's default: 700).
YOUNG_THRESHOLD = 10_000


def tune_collector() -> None:
    """Young collections every :data:`YOUNG_THRESHOLD` allocations; the older generations'
    thresholds stay as they are."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
