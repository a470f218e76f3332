"""GIVEN random and broken HTTP API authorizer events (payload 2.0, simple responses)
WHEN the authorizer runs THEN it never raises, and it allows only the exact configured token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from handlers import authorizer
from tests.unit.handlers.conftest import FUZZ, TOKEN
from tests.unit.handlers.strategies import hostile_text, json_values, mangled, mostly

DENY = {"isAuthorized": False}
ALLOW = {"isAuthorized": True, "context": {"credential": "live"}}


@pytest.fixture
def secret(token_secret: str) -> Iterator[str]:
    """The authorizer with a fresh token cache over the moto secret."""
    authorizer._reset()
    try:
        yield token_secret
    finally:
        authorizer._reset()


def _event(headers: Any) -> dict[str, Any]:
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/POST/ingest",
        "routeKey": "POST /ingest",
        "identitySource": [str(headers)],
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": "/ingest"}},
    }


def _near_misses(token: str) -> st.SearchStrategy[str]:
    """Tokens one edit away from the right one, or the right one in the wrong place.

    Whitespace around the token is trimmed by design (`bearer_token`), so an extra that is
    only whitespace is no miss.
    """
    n = len(token)
    extras = hostile_text().filter(lambda extra: extra.strip() != "")
    return st.one_of(
        st.integers(min_value=0, max_value=n - 1).map(lambda i: token[:i]),
        extras.map(lambda extra: token + extra),
        extras.map(lambda extra: extra + token),
        st.tuples(st.integers(min_value=0, max_value=n - 1), hostile_text(2).filter(bool))
        .map(lambda at: token[: at[0]] + at[1] + token[at[0] + 1 :])
        .filter(lambda t: t != token),
        st.just(token.upper()),
        st.just(token.encode().hex()),
    )


def authorization_values() -> st.SearchStrategy[str]:
    """Authorization header values that must all be refused."""
    near = _near_misses(TOKEN)
    return st.one_of(
        near.map(lambda t: f"Bearer {t}"),
        st.sampled_from(["Basic", "Token", "Bearer:", "Bearer\t", ""]).map(
            lambda s: f"{s} {TOKEN}"
        ),
        st.just(TOKEN),
        hostile_text(),
    )


HEADERS = st.dictionaries(
    hostile_text(20).filter(lambda k: k.lower() != "authorization"), hostile_text(), max_size=4
)


@FUZZ
@given(
    HEADERS,
    st.none() | authorization_values(),
    st.sampled_from(["authorization", "Authorization", "AUTHORIZATION"]),
)
@example({}, "Bearer \ud800", "authorization")
@example({}, f"Bearer {TOKEN}\ud800", "authorization")
@example({}, f"Bearer {TOKEN[:-1]}é", "authorization")
def test_anything_but_the_token_is_denied(
    secret: str, headers: dict[str, str], value: str | None, name: str
) -> None:
    if value is not None:
        headers = {**headers, name: value}
    assert authorizer.handler(_event(headers), None) == DENY


@FUZZ
@given(HEADERS, st.sampled_from(["Bearer", "bearer", "BEARER"]), st.sampled_from(["", " ", "  "]))
def test_the_token_is_allowed_whatever_else_comes_with_it(
    secret: str, headers: dict[str, str], scheme: str, pad: str
) -> None:
    event = _event({**headers, "authorization": f"{pad}{scheme} {TOKEN}{pad}"})
    assert authorizer.handler(event, None) == ALLOW


@FUZZ
@given(
    st.one_of(
        mangled(st.builds(_event, HEADERS)),
        st.dictionaries(hostile_text(12), json_values(6), max_size=4),
        st.builds(_event, json_values(6)),
        st.builds(_event, st.dictionaries(hostile_text(20), json_values(4), max_size=3)),
    )
)
@example(_event(None))
@example(_event(["authorization", f"Bearer {TOKEN}"]))
@example(_event(f"authorization: Bearer {TOKEN}"))
@example(_event({"authorization": [f"Bearer {TOKEN}"]}))
@example(_event({"authorization": {"value": f"Bearer {TOKEN}"}}))
@example({})
def test_broken_events_are_denied_never_raise(secret: str, event: dict[str, Any]) -> None:
    assert authorizer.handler(event, None) == DENY


@FUZZ
@given(mostly(st.just(f"Bearer {TOKEN}"), authorization_values()), HEADERS)
def test_the_answer_depends_only_on_the_token(
    secret: str, value: str, headers: dict[str, str]
) -> None:
    answer = authorizer.handler(_event({**headers, "authorization": value}), None)
    assert answer == (ALLOW if value == f"Bearer {TOKEN}" else DENY)
