"""Opaque page cursors: a position in the tick order, bound to the query that produced it."""

from __future__ import annotations

import base64
import binascii
import hashlib

from handlers.core.reading import Position

__all__ = ["decode_cursor", "encode_cursor", "query_fingerprint"]

_VERSION = "1"


def query_fingerprint(symbol: str, start: int, end: int, ascending: bool) -> str:
    """A short hash of the query a cursor belongs to, so it cannot be replayed on another one."""
    text = f"{symbol}|{start}|{end}|{'a' if ascending else 'd'}"
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def encode_cursor(position: Position, fingerprint: str) -> str:
    """The cursor text for resuming after `position`."""
    raw = f"{_VERSION}|{fingerprint}|{position.ts}|{position.sk}|{position.idx}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, fingerprint: str) -> Position:
    """The position in `token`; ValueError if it is malformed or from another query."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        version, owner, ts, sk, idx = raw.split("|")
        position = Position(int(ts), sk, int(idx))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValueError("is not a cursor this API issued") from None
    if version != _VERSION:
        raise ValueError("is from an unsupported cursor version")
    if owner != fingerprint:
        raise ValueError("belongs to a query with other symbol, from, to or order")
    return position
