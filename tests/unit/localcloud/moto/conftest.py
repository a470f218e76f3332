"""Fixtures of the moto patch tests: this process's moto stays unpatched; moto's own server."""

from __future__ import annotations

import importlib
import inspect
import urllib.request
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from localcloud.moto.patches import PATCHES


def _patched_objects() -> list[str]:
    """Every object a patch touches that is the local cloud's rather than moto's, here."""
    found = []
    for patch in PATCHES:
        for needs in patch.needs:
            value: object = importlib.import_module(needs.module)
            for part in needs.name.split("."):
                value = inspect.getattr_static(value, part)
            if isinstance(value, property):
                value = value.fget
            if getattr(value, "__module__", "").startswith("localcloud."):
                found.append(f"{needs.module}.{needs.name}")
    return found


@pytest.fixture(autouse=True)
def _moto_is_unpatched() -> Iterator[None]:
    """The contract tests check moto's own behaviour: nothing may patch moto in this process."""
    assert _patched_objects() == []
    yield
    assert _patched_objects() == []


@pytest.fixture
def unpatched_moto(fake_aws_env: None) -> Iterator[str]:
    """moto's own server, unpatched, in this process on 127.0.0.1 (ephemeral port): its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    try:
        yield url
    finally:
        # Its backends are this process's: leave nothing behind for the next test.
        reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(reset, timeout=10):  # noqa: S310 (a local http URL)
            pass
        server.stop()
