"""The ingest authorizer against a Secrets Manager secret (moto, in process)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers import authorizer
from handlers.core.settings import ENV

TOKEN = "s3cret-token-0123456789"
BACKFILL_TOKEN = "b4ckfill-token-0123456789"
LIVE = {"isAuthorized": True, "context": {"credential": "live"}}
BACKFILL = {"isAuthorized": True, "context": {"credential": "backfill"}}


def _event(headers: dict[str, str] | None) -> dict[str, Any]:
    """An HTTP API (payload 2.0) REQUEST authorizer event."""
    event: dict[str, Any] = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/POST/ingest",
        "routeKey": "POST /ingest",
    }
    if headers is not None:
        event["headers"] = headers
        event["identitySource"] = list(headers.values())
    return event


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """GIVEN a secret holding the token and the function's environment pointing at it."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="marketstream/test/ingest-token", SecretString=TOKEN)["ARN"]
        monkeypatch.setenv(authorizer.TOKEN_SECRET_ID_ENV, arn)
        backfill = client.create_secret(
            Name="marketstream/test/backfill-token", SecretString=BACKFILL_TOKEN
        )["ARN"]
        monkeypatch.setenv(authorizer.BACKFILL_TOKEN_SECRET_ID_ENV, backfill)
        authorizer._reset()
        yield arn
        authorizer._reset()


def test_env_name_matches_the_settings_module() -> None:
    assert authorizer.TOKEN_SECRET_ID_ENV == ENV.TOKEN_SECRET_ID
    assert authorizer.BACKFILL_TOKEN_SECRET_ID_ENV == ENV.BACKFILL_TOKEN_SECRET_ID


def test_the_backfill_token_is_authorized_and_named_in_the_context(secret: str) -> None:
    event = _event({"authorization": f"Bearer {BACKFILL_TOKEN}"})
    assert authorizer.handler(event, None) == BACKFILL


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"  Bearer   {TOKEN}  ", f"BEARER {TOKEN}"],
)
def test_the_right_token_is_authorized(secret: str, header: str) -> None:
    assert authorizer.handler(_event({"authorization": header}), None) == LIVE


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"authorization": ""},
        {"authorization": "Bearer"},
        {"authorization": "Bearer "},
        {"authorization": TOKEN},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": f"Bearer {TOKEN}x"},
        {"authorization": f"Bearer {TOKEN[:-1]}"},
        {"authorization": "Bearer tökén-ünïcode"},
        {"x-api-key": TOKEN},
    ],
)
def test_anything_else_is_refused(secret: str, headers: dict[str, str] | None) -> None:
    assert authorizer.handler(_event(headers), None) == {"isAuthorized": False}


def test_header_name_case_is_ignored(secret: str) -> None:
    event = _event({"Authorization": f"Bearer {TOKEN}"})
    assert authorizer.handler(event, None) == LIVE


def test_secret_is_fetched_once_per_container(secret: str) -> None:
    authorizer.handler(_event({"authorization": f"Bearer {TOKEN}"}), None)
    # WHEN the secret changes, THEN this container keeps the value it fetched first.
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=secret, SecretString="rotated-token-000000000"
    )
    assert authorizer.handler(_event({"authorization": f"Bearer {TOKEN}"}), None) == LIVE
    authorizer._reset()
    assert authorizer.handler(_event({"authorization": f"Bearer {TOKEN}"}), None) == {
        "isAuthorized": False
    }


def test_missing_secret_id_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(authorizer.TOKEN_SECRET_ID_ENV, raising=False)
    authorizer._reset()
    with pytest.raises(RuntimeError, match=authorizer.TOKEN_SECRET_ID_ENV):
        authorizer.handler(_event({"authorization": f"Bearer {TOKEN}"}), None)


def test_import_is_cheap() -> None:
    code = (
        "import sys, handlers.authorizer; print(sorted({'boto3', 'pydantic'} & set(sys.modules)))"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
