"""The base poller's shared rules, and the SQS poller on top of it (fake queue, fake function)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from localcloud.runtime.functions import FunctionError, LambdaFunction
from localcloud.sources.base import MappingSettings, Poller
from localcloud.sources.sqs import SqsPoller


@dataclass
class _Spec:
    name: str = "consumer"


@dataclass
class _Function:
    """Answers each invocation with the next scripted result (an exception is raised)."""

    answers: list[Any]
    spec: _Spec = field(default_factory=_Spec)
    events: list[dict[str, Any]] = field(default_factory=list)

    async def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class _Queue:
    """receive_message / delete_message_batch of one SQS queue, in memory."""

    messages: list[dict[str, Any]]
    deleted: list[str] = field(default_factory=list)

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        batch, self.messages = self.messages[: kwargs["MaxNumberOfMessages"]], []
        return {"Messages": batch}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.deleted.extend(entry["ReceiptHandle"] for entry in kwargs["Entries"])
        return {}


def _settings(function: _Function, *, report: bool = True, filters: tuple[Any, ...] = ()) -> Any:
    return MappingSettings(
        source_arn="arn:aws:sqs:us-east-1:123456789012:q",
        function=cast(LambdaFunction, function),
        batch_size=10,
        window_s=0,
        report_failures=report,
        filters=filters,
        region="us-east-1",
    )


def _messages(*bodies: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": json.dumps(body)}
        for n, body in enumerate(bodies)
    ]


class _Probe(Poller):
    async def _poll(self) -> bool:
        return False


@pytest.mark.parametrize(
    ("report", "result", "failed"),
    [
        (True, None, []),
        (True, {"batchItemFailures": []}, []),
        (True, {"batchItemFailures": [{"itemIdentifier": "b"}]}, [1]),
        (True, {"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "a"}]}, [0, 2]),
        (True, {"batchItemFailures": [{"itemIdentifier": "x"}]}, [0, 1, 2]),
        (True, {"batchItemFailures": [{"other": "a"}]}, [0, 1, 2]),
        (True, {"batchItemFailures": "a"}, [0, 1, 2]),
        (False, {"batchItemFailures": [{"itemIdentifier": "b"}]}, []),
    ],
)
def test_partial_batch_responses_are_read_as_lambda_reads_them(report, result, failed) -> None:
    poller = _Probe(_settings(_Function([]), report=report))
    assert poller._reported_failures(result, ["a", "b", "c"]) == failed


async def test_sqs_poller_deletes_all_but_the_reported_failures() -> None:
    queue = _Queue(_messages({"n": 0}, {"n": 1}, {"n": 2}))
    function = _Function([{"batchItemFailures": [{"itemIdentifier": "m1"}]}])
    poller = SqsPoller(_settings(function), client=cast(Any, queue), queue_url="u")
    assert await poller._poll()
    assert queue.deleted == ["r0", "r2"]
    assert (poller.stats.delivered, poller.stats.failed, poller.stats.deleted) == (3, 1, 2)


async def test_sqs_poller_keeps_every_message_when_the_function_fails() -> None:
    queue = _Queue(_messages({"n": 0}, {"n": 1}))
    poller = SqsPoller(
        _settings(_Function([FunctionError("RuntimeError", "boom")])),
        client=cast(Any, queue),
        queue_url="u",
    )
    assert await poller._poll()
    assert queue.deleted == []
    assert poller.stats.failed == 2


async def test_sqs_poller_deletes_what_its_filters_drop_unseen() -> None:
    queue = _Queue(_messages({"kind": "tick"}, {"kind": "noise"}))
    function = _Function([None])
    only_ticks = ({"body": {"kind": ["tick"]}},)
    poller = SqsPoller(
        _settings(function, filters=only_ticks), client=cast(Any, queue), queue_url="u"
    )
    assert await poller._poll()
    assert [r["messageId"] for r in function.events[0]["Records"]] == ["m0"]
    assert sorted(queue.deleted) == ["r0", "r1"]
    assert poller.filtered == 1
