"""Stack configuration: defaults, both stack files, and one clear message per bad key."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from infra.config import ConfigError, StackConfig, load_config, parse_config
from infra.mockrun import pulumi_config_env
from tests.infra.pulumi_mocks import STACKS, run_program, stack_file


@pytest.fixture
def pulumi_config() -> Iterator[dict[str, str]]:
    """Set `PULUMI_CONFIG` for one test, the way the engine (and the mock runtime) pass it."""
    values: dict[str, str] = {}
    yield values
    os.environ.pop("PULUMI_CONFIG", None)


def _load(values: dict[str, Any]) -> StackConfig:
    os.environ["PULUMI_CONFIG"] = pulumi_config_env(values)
    return load_config()


def test_defaults_are_a_valid_small_stack() -> None:
    config = parse_config({})
    assert config.architecture == "arm64"
    assert config.runtime == "python3.13"
    assert config.spill_visibility_timeout_s == 6 * config.replay_timeout_s
    assert config.token_secret_name("dev") == "marketstream/dev/ingest-token"
    assert config.query_clients[0].tier in config.usage_plans


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_load(stack: str, pulumi_config: dict[str, str]) -> None:
    config = _load(stack_file(stack))
    assert config.point_in_time_recovery is (stack == "prod")
    assert config.deletion_protection is (stack == "prod")
    assert config.log_retention_days == {"dev": 7, "prod": 90}[stack]
    if stack == "prod":
        assert config.alarm_email == "oncall@example.com"
        assert set(config.usage_plans) == {"standard", "premium"}
        assert config.usage_plans["premium"].quota_period == "MONTH"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"ingestMemoryMb": "64"},
            "marketstream:ingestMemoryMb: must be between 128 and 10240 (got '64')",
        ),
        (
            {"ingestMemoryMb": "20000"},
            "marketstream:ingestMemoryMb: must be between 128 and 10240 (got '20000')",
        ),
        (
            {"ingestMemoryMb": "lots"},
            "marketstream:ingestMemoryMb: must be an integer (got 'lots')",
        ),
        (
            {"architecture": "x86"},
            "marketstream:architecture: must be one of 'arm64' or 'x86_64' (got 'x86')",
        ),
        (
            {"runtime": "python3.9"},
            "marketstream:runtime: must be one of 'python3.12' or 'python3.13' (got 'python3.9')",
        ),
        (
            {"logRetentionDays": "10"},
            "marketstream:logRetentionDays: must be one of 1, 3, 5, 7, 14",
        ),
        (
            {"ingestTimeoutS": "60"},
            "marketstream:ingestTimeoutS: must be between 1 and 30 (got '60')",
        ),
        ({"ttlDays": "-1"}, "marketstream:ttlDays: must be between 0 and 36500 (got '-1')"),
        ({"maxTicks": "0"}, "marketstream:maxTicks: must be between 1 and 10000 (got '0')"),
        (
            {"ingestRateLimit": "0"},
            "marketstream:ingestRateLimit: must be between 1 and 10000 (got '0')",
        ),
        (
            {"ingestBurstLimit": "9000"},
            "marketstream:ingestBurstLimit: must be between 1 and 5000 (got '9000')",
        ),
        (
            {"maxReceiveCount": "0"},
            "marketstream:maxReceiveCount: must be between 1 and 1000 (got '0')",
        ),
        (
            {"pointInTimeRecovery": "maybe"},
            "marketstream:pointInTimeRecovery: must be true or false (got 'maybe')",
        ),
        (
            {"usagePlans": {"pro": {"rateLimit": 0}}},
            "marketstream:usagePlans.pro.rateLimit: must be between 1 and 10000 (got 0)",
        ),
        (
            {"usagePlans": {"pro": {"quotaPeriod": "YEAR"}}},
            "marketstream:usagePlans.pro.quotaPeriod: must be one of 'DAY', 'WEEK' or 'MONTH'",
        ),
        ({"usagePlans": {}}, "marketstream:usagePlans: must have at least 1 entry"),
        ({"usagePlans": {"Pro!": {}}}, "marketstream:usagePlans.Pro!: tier names must match"),
        (
            {"queryClients": [{"name": "a", "tier": "gold"}]},
            "marketstream:queryClients[0].tier: must be one of the usagePlans (standard)",
        ),
        (
            {"queryClients": [{"name": "Bad Name", "tier": "standard"}]},
            "marketstream:queryClients[0].name: must match",
        ),
        (
            {
                "queryClients": [
                    {"name": "a", "tier": "standard"},
                    {"name": "a", "tier": "standard"},
                ]
            },
            "marketstream:queryClients[1].name: must be unique (got 'a')",
        ),
        (
            {"replayBatchSize": "100", "replayBatchWindowS": "0"},
            "marketstream:replayBatchSize: must be at most 10 when replayBatchWindowS is 0",
        ),
        ({"alarmEmail": "nobody"}, "marketstream:alarmEmail: must match"),
        ({"ingestMemroyMb": "512"}, "marketstream:ingestMemroyMb: unknown key"),
    ],
)
def test_a_bad_value_names_the_key_and_the_limit(
    raw: dict[str, Any], message: str, pulumi_config: dict[str, str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load({f"marketstream:{key}": value for key, value in raw.items()})
    text = str(caught.value)
    assert text.startswith(message), text
    assert "\n" not in text, "one bad value, one line"


def test_several_bad_values_give_one_line_each(pulumi_config: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        _load({"marketstream:queryMemoryMb": "1", "marketstream:ttlDays": "x"})
    assert str(caught.value).splitlines() == [
        "marketstream:queryMemoryMb: must be between 128 and 10240 (got '1')",
        "marketstream:ttlDays: must be an integer (got 'x')",
    ]


def test_other_namespaces_are_ignored(pulumi_config: dict[str, str]) -> None:
    config = _load({"aws:region": "eu-west-1", "marketstream:ttlDays": "9"})
    assert config.ttl_days == 9


def test_the_program_fails_before_declaring_anything_on_bad_config() -> None:
    config = {**stack_file("dev"), "marketstream:replayTimeoutS": "901"}
    with pytest.raises(
        ConfigError, match=r"^marketstream:replayTimeoutS: must be between 1 and 900"
    ):
        run_program("dev", config)
    assert "PULUMI_CONFIG" not in os.environ


def test_config_error_is_a_pulumi_run_error() -> None:
    # The engine prints a RunError's message alone, without a Python traceback.
    import pulumi

    assert issubclass(ConfigError, pulumi.RunError)
    assert json.loads(pulumi_config_env({"a:b": True, "a:c": [1]})) == {"a:b": "true", "a:c": "[1]"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"ttlDays": 7},
            "marketstream:ttlDays: must cover the ingest window (pastWindowS + futureWindowS = "
            "605100 s) plus a minute, or be 0 (got 7)",
        ),
        (
            {"pastWindowS": 86_400, "futureWindowS": 0, "barRetentionDays": {"1m": 1}},
            "marketstream:barRetentionDays.1m: must cover the ingest window (pastWindowS + "
            "futureWindowS = 86400 s) plus a day, or be 0 (got 1)",
        ),
    ],
)
def test_retention_shorter_than_the_ingest_window_is_refused(
    raw: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert str(caught.value) == message


def test_bar_retention_per_interval() -> None:
    config = parse_config({"ttlDays": 0, "barRetentionDays": {"1m": 30, "1d": 0}})
    assert config.bar_retention_days == {"1m": 30, "1d": 0}
    with pytest.raises(ConfigError, match=r"barRetentionDays\.2m"):
        parse_config({"barRetentionDays": {"2m": 30}})
