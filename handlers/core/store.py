"""DynamoDB access: writing blocks with retries and backoff, and reading them back in key order."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from handlers.core.blocks import Block, block_from_item
from handlers.core.errors import MarketStreamError, StoreRefused, StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "BATCH_SIZE",
    "BlockWriter",
    "DynamoBlockSource",
    "ReadUnavailable",
    "WriteReport",
    "get_item",
    "query_page",
]

BATCH_SIZE: Final = 25
"""BatchWriteItem's limit of puts per call."""
RETRYABLE_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
ITEM_CODES: Final = frozenset({"ValidationException"})
"""Refusals of the items themselves (too large, bad key): other items may well be written.
Other non-retryable codes (AccessDenied, ResourceNotFound) concern the table and every item."""
_NETWORK_ERRORS: Final = (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
_log = logging.getLogger(__name__)


class ReadUnavailable(MarketStreamError):
    """DynamoDB refused or could not be reached for a read, after botocore's retries."""


class WriteReport(NamedTuple):
    """What a successful write took: calls made and how many were retries (a NamedTuple: one
    per request, and cheaper to build than a frozen dataclass)."""

    calls: int
    retries: int


class BlockWriter:
    """Writes blocks with BatchWriteItem, retrying refusals with capped exponential backoff."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        attempts: int = 6,
        base_delay_s: float = 0.025,
        max_delay_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._table = table_name
        self._attempts = attempts
        self._base = base_delay_s
        self._cap = max_delay_s
        self._sleep = sleep
        self._jitter = jitter

    def write(self, blocks: Sequence[Block]) -> WriteReport:
        """Write every block or raise StoreUnavailable listing those still unwritten."""
        by_key = {(b.symbol, b.sk): b for b in blocks}
        pending: list[dict[str, Any]] = [b.to_item() for b in by_key.values()]
        calls = retries = 0
        cause = ""
        for attempt in range(self._attempts):
            if attempt:
                retries += 1
                # Full jitter spreads retries of many concurrent writers (AWS backoff guidance).
                self._sleep(self._jitter() * min(self._cap, self._base * 2**attempt))
            refused: list[dict[str, Any]] = []
            for i in range(0, len(pending), BATCH_SIZE):
                chunk = pending[i : i + BATCH_SIZE]
                calls += 1
                try:
                    answer = self._client.batch_write_item(
                        RequestItems={self._table: [{"PutRequest": {"Item": it}} for it in chunk]}
                    )
                except ClientError as exc:
                    code = exc.response.get("Error", {}).get("Code", "")
                    if code not in RETRYABLE_CODES:
                        _log.error("batch write failed and will not be retried: %s", code)
                        error = StoreRefused if code in ITEM_CODES else StoreUnavailable
                        raise error(
                            [by_key[_key(it)] for it in pending],
                            f"DynamoDB {code}",
                            retries=retries,
                        ) from exc
                    cause = f"DynamoDB {code}"
                    refused.extend(chunk)
                    continue
                except _NETWORK_ERRORS as exc:
                    cause = type(exc).__name__
                    refused.extend(chunk)
                    continue
                unprocessed = answer.get("UnprocessedItems", {}).get(self._table, [])
                if unprocessed:
                    cause = "UnprocessedItems"
                    refused.extend(r["PutRequest"]["Item"] for r in unprocessed)
            if not refused:
                return WriteReport(calls=calls, retries=retries)
            pending = refused
        raise StoreUnavailable([by_key[_key(it)] for it in pending], cause, retries=retries)


def query_page(client: DynamoDBClient, request: dict[str, Any]) -> Any:
    """One Query call; ReadUnavailable when DynamoDB refuses it for now or cannot be reached."""
    return _read(client.query, request)


def get_item(client: DynamoDBClient, request: dict[str, Any]) -> Any:
    """One GetItem call, refused or unreachable as `query_page` says."""
    return _read(client.get_item, request)


def _read(call: Callable[..., Any], request: dict[str, Any]) -> Any:
    try:
        return call(**request)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in RETRYABLE_CODES:
            raise  # a bug or a misconfiguration (bad key, missing table): not transient
        raise ReadUnavailable(f"DynamoDB {code}") from exc
    except _NETWORK_ERRORS as exc:
        raise ReadUnavailable(type(exc).__name__) from exc


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return item["symbol"]["S"], item["sk"]["S"]


class DynamoBlockSource:
    """A `BlockSource` over the table: one Query per page of blocks, in sort-key order.

    `consistent` reads see every write acknowledged before the Query (the rollup needs that: it
    recomputes a minute from its blocks right after the stream delivered one of them).
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        page_size: int = 100,
        consistent: bool = False,
    ) -> None:
        self._client = client
        self._table = table_name
        self._page_size = page_size
        self._consistent = consistent

    def blocks(
        self, symbol: str, sk_low: str, sk_high: str, *, ascending: bool, min_last_ts: int
    ) -> Iterator[Block]:
        """Blocks of `symbol` with sk in [sk_low, sk_high] whose last tick is >= min_last_ts."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "symbol = :s AND sk BETWEEN :lo AND :hi",
            "FilterExpression": "t1 >= :m",
            "ExpressionAttributeValues": {
                ":s": {"S": symbol},
                ":lo": {"S": sk_low},
                ":hi": {"S": sk_high},
                ":m": {"N": str(min_last_ts)},
            },
            "ScanIndexForward": ascending,
            "Limit": self._page_size,
            "ConsistentRead": self._consistent,
        }
        while True:
            answer = query_page(self._client, request)
            for item in answer.get("Items", []):
                yield block_from_item(item)
            last = answer.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last
