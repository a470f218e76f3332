"""Fixtures and settings of the event-parsing property tests of every Lambda handler.

Hypothesis settings are a shared `FUZZ` object rather than a loaded profile: loading a profile
here would change every other property test of the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, settings
from moto import mock_aws

from handlers.core.connections import ConnectionStore
from tests.unit.core.conftest import cloud
from tests.unit.core.test_ws import make_connections_table

# Fixtures of the core handler tests, shared: pytest finds fixtures by name in a conftest.
__all__ = ["BACKFILL_TOKEN", "FUZZ", "MOTO_FUZZ", "TOKEN", "cloud", "connections", "token_secret"]

FUZZ = settings(
    max_examples=100,
    # moto and pydantic calls vary a lot in time on a shared 2-core machine: no deadline.
    deadline=None,
    # Same examples on every run (seeded by the test's name), and no example database written
    # into the shared working tree.
    derandomize=True,
    database=None,
    # The fixtures are set up once per test and shared by its examples on purpose (the moto
    # account, the cached token); examples reset what they change.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

MOTO_FUZZ = settings(FUZZ, max_examples=50)
"""For properties that call moto a few times per example (~10 ms each): fewer examples, so the
suite stays within its time budget."""

TOKEN = "fuzz-token-0123456789abcdef"
BACKFILL_TOKEN = "fuzz-backfill-token-0123456789"
_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
"""What `fake_aws_env` sets; module-scoped fixtures cannot use that function-scoped one."""


@pytest.fixture(scope="module")
def token_secret() -> Iterator[str]:
    """A moto account, one per test module (starting one costs ~0.5 s), with a Secrets
    Manager secret holding TOKEN named by the token env variable."""
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name, value in _AWS_ENV.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="tok", SecretString=TOKEN)["ARN"]
        patch.setenv("MARKETSTREAM_TOKEN_SECRET_ID", arn)
        backfill = client.create_secret(Name="backfill", SecretString=BACKFILL_TOKEN)["ARN"]
        patch.setenv("MARKETSTREAM_BACKFILL_TOKEN_SECRET_ID", backfill)
        yield arn


@pytest.fixture(scope="module")
def connections(token_secret: str) -> ConnectionStore:
    """The WebSocket connections table in the same moto account as the token secret."""
    client: Any = boto3.client("dynamodb")
    make_connections_table(client)
    return ConnectionStore(client, "connections")
