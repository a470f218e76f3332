"""The WebSocket connections table: one item per open connection with its subscribed symbols.

Item: `connection_id` (S, key), `symbols` (SS, absent when none), `connected_at` (N, epoch ms),
`expires_at` (N, TTL). `$disconnect` is best effort on API Gateway, so every item expires on its
own; DynamoDB deletes expired items lazily, so readers skip them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["KEY", "SYMBOLS", "TTL_ATTRIBUTE", "Connection", "ConnectionStore"]

KEY: Final = "connection_id"
SYMBOLS: Final = "symbols"
TTL_ATTRIBUTE: Final = "expires_at"


@dataclass(frozen=True, slots=True)
class Connection:
    """An open connection and the symbols it subscribed to."""

    connection_id: str
    symbols: frozenset[str]


class ConnectionStore:
    """Reads and writes the connections table."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def open(self, connection_id: str, *, connected_at_ms: int, expires_at: int) -> None:
        """Record a new connection with no subscriptions."""
        self._client.put_item(
            TableName=self._table,
            Item={
                KEY: {"S": connection_id},
                "connected_at": {"N": str(connected_at_ms)},
                TTL_ATTRIBUTE: {"N": str(expires_at)},
            },
        )

    def close(self, connection_id: str) -> None:
        """Forget a connection (idempotent)."""
        self._client.delete_item(TableName=self._table, Key={KEY: {"S": connection_id}})

    def subscribe(self, connection_id: str, symbols: Iterable[str]) -> list[str] | None:
        """Add symbols; the connection's symbols after it, or None if the connection is unknown."""
        return self._update(connection_id, "ADD", symbols)

    def unsubscribe(self, connection_id: str, symbols: Iterable[str]) -> list[str] | None:
        """Remove symbols; the connection's symbols after it, or None if it is unknown."""
        return self._update(connection_id, "DELETE", symbols)

    def _update(self, connection_id: str, verb: str, symbols: Iterable[str]) -> list[str] | None:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key={KEY: {"S": connection_id}},
                UpdateExpression=f"{verb} #s :s",
                # Never create an item (it would have no TTL): the connection must exist.
                ConditionExpression="attribute_exists(#k)",
                ExpressionAttributeNames={"#s": SYMBOLS, "#k": KEY},
                ExpressionAttributeValues={":s": {"SS": sorted(set(symbols))}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return sorted(answer.get("Attributes", {}).get(SYMBOLS, {}).get("SS", []))

    def scan(self, now_s: float) -> Iterator[Connection]:
        """Every unexpired connection with at least one subscription (reads the whole table)."""
        paginator = self._client.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self._table,
            ProjectionExpression="#k, #s, #t",
            ExpressionAttributeNames={"#k": KEY, "#s": SYMBOLS, "#t": TTL_ATTRIBUTE},
        )
        for page in pages:
            for item in page.get("Items", []):
                connection = _connection(item, now_s)
                if connection is not None:
                    yield connection


def _connection(item: dict[str, Any], now_s: float) -> Connection | None:
    expires = item.get(TTL_ATTRIBUTE)
    if expires is not None and int(expires["N"]) <= now_s:
        return None
    symbols = item.get(SYMBOLS, {}).get("SS", [])
    if not symbols:
        return None
    return Connection(item[KEY]["S"], frozenset(symbols))
