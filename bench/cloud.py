"""The benchmarks' local cloud: `localcloud.launcher` with the ingest stage throttle lifted."""

from __future__ import annotations

from typing import Final

from localcloud.launcher import LaunchOptions

__all__ = ["NO_STAGE_THROTTLE"]

NO_STAGE_THROTTLE: Final = LaunchOptions(config=("ingestRateLimit=10000", "ingestBurstLimit=5000"))
"""The dev stack with stage limits that make a benchmark measure the cloud, not the 429s."""
