"""Resident memory of named process trees, sampled every few seconds on a background thread.

Each name owns a root process and its descendants, except descendants that are themselves
another name's root (and their trees): the soak's own process is the parent of the local
cloud, which is the parent of moto, and each of the three is reported on its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psutil

__all__ = ["ProcessSample", "RssSampler", "Sample", "sample_trees"]

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)
"""A process that exits between being listed and being read is simply not counted."""


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One named tree at one instant."""

    rss_bytes: int
    processes: int
    """How many processes the tree had (root included)."""
    threads: int
    fds: int


@dataclass(frozen=True, slots=True)
class Sample:
    """Every named tree at one instant; None for a tree whose root has exited."""

    at: float
    """`time.monotonic()` when the sample was taken."""
    trees: Mapping[str, ProcessSample | None]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except _GONE:
        return False


def _owners(roots: Mapping[str, psutil.Process]) -> dict[str, list[psutil.Process]]:
    """The processes of each living named tree, each under its nearest named ancestor."""
    alive = {root.pid: name for name, root in roots.items() if _alive(root)}
    owned: dict[str, list[psutil.Process]] = {name: [roots[name]] for name in alive.values()}
    for name in alive.values():
        root = roots[name]
        try:
            # Listing descendants scans all of /proc: done once per outermost root only.
            if any(parent.pid in alive for parent in root.parents()):
                continue
            descendants = root.children(recursive=True)
        except _GONE:
            continue
        parent_of: dict[int, int] = {}
        for process in descendants:
            try:
                parent_of[process.pid] = process.ppid()
            except _GONE:
                continue
        for process in descendants:
            pid = parent_of.get(process.pid)
            while pid is not None and pid not in alive:
                pid = parent_of.get(pid)
            if process.pid not in alive and pid is not None:
                owned[alive[pid]].append(process)
    return owned


def _measure(processes: list[psutil.Process]) -> ProcessSample:
    rss = threads = fds = count = 0
    for process in processes:
        try:
            with process.oneshot():  # one read of /proc per process for all three figures
                rss += process.memory_info().rss
                threads += process.num_threads()
                fds += process.num_fds()
        except _GONE:
            continue
        count += 1
    return ProcessSample(rss_bytes=rss, processes=count, threads=threads, fds=fds)


def sample_trees(roots: Mapping[str, psutil.Process]) -> dict[str, ProcessSample | None]:
    """Measure each named tree now; None for a tree whose root has exited."""
    owned = _owners(roots)
    return {name: _measure(owned[name]) if name in owned else None for name in roots}


class RssSampler:
    """Samples `sample_trees(roots)` at start, then every `interval_s`, until stopped."""

    def __init__(
        self,
        roots: Mapping[str, psutil.Process],
        *,
        interval_s: float,
        on_sample: Callable[[Sample], None] | None = None,
    ) -> None:
        self.roots = dict(roots)
        self.samples: list[Sample] = []
        self._interval_s = interval_s
        self._on_sample = on_sample
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def start(self) -> None:
        """Take the first sample and keep sampling in the background."""
        self.sample_now()
        self._thread.start()

    def sample_now(self) -> Sample:
        """Take one sample now (also from the caller's thread) and keep it."""
        sample = Sample(at=time.monotonic(), trees=sample_trees(self.roots))
        with self._lock:
            self.samples.append(sample)
        if self._on_sample is not None:
            self._on_sample(sample)
        return sample

    def stop(self) -> None:
        """Stop the background sampling (idempotent); samples taken so far are kept."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        began = time.monotonic()
        interval = self._interval_s
        beat = 1
        # Waiting on the event is the sampling period and the stop signal at once; beats stay
        # on a fixed grid, and a beat missed (a slow sample on a busy machine) is skipped.
        while not self._stop.wait(max(0.0, began + beat * interval - time.monotonic())):
            self.sample_now()
            beat = int((time.monotonic() - began) / interval) + 1
