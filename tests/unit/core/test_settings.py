"""GIVEN a function's environment WHEN settings are read THEN they parse, bad ones named."""

from __future__ import annotations

import pytest

from handlers.core.errors import ConfigError
from handlers.core.settings import ENV, Settings


def test_unset_variables_take_the_defaults_and_set_ones_are_read():
    settings = Settings.from_env({ENV.TABLE_NAME: "ticks", ENV.MAX_TICKS: " 1000 ", "OTHER": "x"})
    assert settings.table_name == "ticks"
    assert settings.max_ticks == 1000
    assert settings.ttl_days == Settings().ttl_days == 30


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (ENV.MAX_TICKS, "0", "MARKETSTREAM_MAX_TICKS: must be between 1 and 10000 (got 0)"),
        (ENV.FUTURE_WINDOW_S, "-1", "MARKETSTREAM_FUTURE_WINDOW_S: must be >= 0 (got -1)"),
        (ENV.WRITE_ATTEMPTS, "six", "MARKETSTREAM_WRITE_ATTEMPTS: must be an integer, not 'six'"),
        (ENV.TTL_DAYS, "1.5", "MARKETSTREAM_TTL_DAYS: must be an integer, not '1.5'"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str, message: str):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert str(info.value) == message


def test_settings_built_in_code_are_checked_too():
    with pytest.raises(ConfigError, match="MAX_BODY_BYTES: must be between 1024"):
        Settings(max_body_bytes=10)
