"""The bars table: rollup pages read and written with version conditions, and each symbol's mark.

Layout and the reasons for it: docs/storage.md ("Bars"). Writes are conditional on the version
read (a new page: on its absence), so two recomputes of one page cannot both win: the loser sees
`False` and starts over from a fresh read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from handlers.core.barpages import MARK_KEY, Page, page_from_item, page_key
from handlers.core.store import get_item, query_page

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["BarTable"]

_CONFLICT = "ConditionalCheckFailedException"


class BarTable:
    """Pages and marks of the bars table (partition key `symbol`, sort key `sk`)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def page(self, symbol: str, interval: str, start: int) -> Page:
        """The page as stored now (a strongly consistent read); version 0 if there is none."""
        answer = get_item(
            self._client,
            {
                "TableName": self._table,
                "Key": {"symbol": {"S": symbol}, "sk": {"S": page_key(interval, start)}},
                "ConsistentRead": True,
            },
        )
        item = answer.get("Item")
        return page_from_item(item) if item else Page(interval, start)

    def pages_now(self, symbol: str, keys: list[tuple[str, int]]) -> dict[tuple[str, int], Page]:
        """Pages by (interval, start), strongly consistent, in one BatchGetItem per 100 keys."""
        found: dict[tuple[str, int], Page] = {}
        for i in range(0, len(keys), 100):
            chunk = keys[i : i + 100]
            answer = self._client.batch_get_item(
                RequestItems={
                    self._table: {
                        "Keys": [
                            {"symbol": {"S": symbol}, "sk": {"S": page_key(interval, start)}}
                            for interval, start in chunk
                        ],
                        "ConsistentRead": True,
                    }
                }
            )
            for item in answer.get("Responses", {}).get(self._table, []):
                page = page_from_item(item)
                found[(page.interval, page.start)] = page
            unprocessed: Any = answer.get("UnprocessedKeys", {})
            for key in unprocessed.get(self._table, {}).get(
                "Keys", []
            ):  # throttled: read them one by one
                interval, _, start = key["sk"]["S"].partition("#")
                found[(interval, int(start))] = self.page(symbol, interval, int(start))
        return {key: found.get(key) or Page(*key) for key in keys}

    def put_page(
        self, symbol: str, page: Page, *, read_version: int, expires_at: int | None
    ) -> bool:
        """Write `page` if the stored version is still `read_version`; False if it moved on."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": page.to_item(symbol, expires_at),
        }
        if read_version:
            request["ConditionExpression"] = "v = :v"
            request["ExpressionAttributeValues"] = {":v": {"N": str(read_version)}}
        else:
            request["ConditionExpression"] = "attribute_not_exists(sk)"
        try:
            self._client.put_item(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _CONFLICT:
                return False
            raise
        return True

    def pages(self, symbol: str, interval: str, first: int, last: int) -> Iterator[Page]:
        """Pages of `interval` starting in [first, last], in time order (eventually consistent)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "symbol = :s AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":s": {"S": symbol},
                ":lo": {"S": page_key(interval, first)},
                ":hi": {"S": page_key(interval, last)},
            },
        }
        while True:
            answer = query_page(self._client, request)
            for item in answer.get("Items", []):
                yield page_from_item(item)
            last_key = answer.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key

    def mark(self, symbol: str) -> int | None:
        """The newest tick timestamp rolled up for `symbol`, or None if none was."""
        answer = get_item(
            self._client,
            {
                "TableName": self._table,
                "Key": {"symbol": {"S": symbol}, "sk": {"S": MARK_KEY}},
            },
        )
        item = answer.get("Item")
        return int(item["t"]["N"]) if item else None

    def raise_mark(self, symbol: str, newest: int) -> None:
        """Set the mark to `newest` unless it is already at or past it."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"symbol": {"S": symbol}, "sk": {"S": MARK_KEY}},
                UpdateExpression="SET t = :t",
                ConditionExpression="attribute_not_exists(t) OR t < :t",
                ExpressionAttributeValues={":t": {"N": str(newest)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _CONFLICT:
                raise
