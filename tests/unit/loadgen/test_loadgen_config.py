"""Argument parsing and config validation."""

from __future__ import annotations

import dataclasses

import pytest

from loadgen.config import LoadConfig, Stage, parse_duration, parse_stages
from loadgen.errors import UsageError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("2m", 120.0), ("500ms", 0.5), ("1h", 3600.0), ("1.5", 1.5)],
)
def test_durations(text: str, seconds: float):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "3x", "-1s", "s"])
def test_bad_durations(text: str):
    with pytest.raises(UsageError, match="bad duration"):
        parse_duration(text)


def test_stages():
    assert parse_stages("30s:100, 1m:500") == (
        Stage(duration_s=30.0, target_rps=100.0),
        Stage(duration_s=60.0, target_rps=500.0),
    )


@pytest.mark.parametrize("text", ["30s", "30s:abc", "0s:10", "10s:-1"])
def test_bad_stages(text: str):
    with pytest.raises(UsageError):
        parse_stages(text)


def _config(**changes: object) -> LoadConfig:
    return LoadConfig(stages=(Stage(duration_s=10, target_rps=10),), start_rps=10, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch": 0}, "--batch"),
        ({"query_ratio": 1.5}, "--query-ratio"),
        ({"warmup_s": 10.0}, "--warmup"),
        ({"connections": 0}, "--connections"),
        ({"timeout_s": 0.0}, "--timeout"),
        ({"workers": 0}, "--workers"),
    ],
)
def test_config_validates_itself(changes: dict[str, object], message: str):
    with pytest.raises(UsageError, match=message):
        _config(**changes)


def test_config_is_frozen_and_keyword_only():
    config = _config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.batch = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        LoadConfig((Stage(duration_s=1, target_rps=1),))  # type: ignore[call-arg]


def test_a_schedule_with_no_requests_is_refused():
    with pytest.raises(UsageError, match="no requests"):
        LoadConfig(stages=(Stage(duration_s=1, target_rps=0),))
