"""The interpreter settings both local-cloud processes (the gateway's and moto's) run with.

Each process holds many threads doing short bursts of Python between socket calls, and a heap
that only grows after start-up (staged handler modules, botocore's models, moto's backends):

- the GIL is handed over every `SWITCH_INTERVAL_S`: at the default 5 ms, a thread returning
  from a socket call waits up to 5 ms for it while another computes; a request makes several
  such calls, so latency convoys long before the CPU is busy (docs/localcloud.md);
- the cyclic GC runs its young collection every 100,000 allocations instead of 700, and
  everything that exists once the process is ready is frozen out of its scans: full passes over
  that heap paused the process for 100-200 ms, and every request in flight waited (p95 at 200
  one-tick requests/s: 247-300 ms with the defaults, 62-67 ms so, docs/localcloud.md).
"""

from __future__ import annotations

import gc
import sys
from typing import Final

__all__ = ["SWITCH_INTERVAL_S", "freeze_startup", "tune"]

SWITCH_INTERVAL_S: Final = 0.0005
"""GIL hand-over interval, in seconds."""
GC_THRESHOLDS: Final = (100_000, 50, 100)


def tune() -> None:
    """Set the switch interval and the GC thresholds (first thing, before the heap grows)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.set_threshold(*GC_THRESHOLDS)


def freeze_startup() -> None:
    """Collect once and keep everything that exists now out of later collections."""
    gc.collect()
    gc.freeze()
