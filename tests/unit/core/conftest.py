"""Fixtures: an in-process moto account with the table and spill queue, fresh handler modules."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers.core import aws


@dataclass
class Cloud:
    ddb: Any
    sqs: Any
    table: str
    queue_url: str
    ingest: ModuleType
    query: ModuleType
    replay: ModuleType

    def stored_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.ddb.scan(TableName=self.table)["Items"]
        return items

    def queued_bodies(self) -> list[str]:
        answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [m["Body"] for m in answer.get("Messages", [])]


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, fake_aws_env: None) -> Iterator[Cloud]:
    with mock_aws():
        ddb = boto3.client("dynamodb")
        sqs = boto3.client("sqs")
        ddb.create_table(
            TableName="ticks",
            KeySchema=[
                {"AttributeName": "symbol", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "symbol", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        queue_url = sqs.create_queue(QueueName="spill")["QueueUrl"]
        monkeypatch.setenv("MARKETSTREAM_TABLE_NAME", "ticks")
        monkeypatch.setenv("MARKETSTREAM_SPILL_QUEUE_URL", queue_url)
        monkeypatch.setenv("MARKETSTREAM_WRITE_ATTEMPTS", "2")
        for cached in (aws.dynamodb, aws.sqs, aws.secretsmanager):
            cached.cache_clear()
        modules = [
            importlib.reload(importlib.import_module(f"handlers.{name}"))
            for name in ("ingest", "query", "replay")
        ]
        yield Cloud(ddb, sqs, "ticks", queue_url, *modules)
        for cached in (aws.dynamodb, aws.sqs, aws.secretsmanager):
            cached.cache_clear()


def body_of(response: dict[str, Any]) -> Any:
    import json

    assert response["headers"]["content-type"] == "application/json"
    return json.loads(response["body"])
