"""Build a poller for each of the program's event source mappings, by the source's service."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from localcloud.deploy.program import Deployment, Resource
from localcloud.runtime.functions import LambdaFunction
from localcloud.sources.base import Poller
from localcloud.sources.sqs import SqsPoller
from localcloud.sources.streams import stream_poller

__all__ = ["Clients", "build_pollers"]


Clients = Callable[[str], Any]
"""Service name -> a boto3 client of moto (shared, created once)."""
_Factory = Callable[[Resource, LambdaFunction, Deployment, Clients, str], "Poller | None"]


def _sqs_poller(
    mapping: Resource,
    function: LambdaFunction,
    deployment: Deployment,
    clients: Clients,
    region: str,
) -> Poller | None:
    arn = str(mapping.inputs["eventSourceArn"])
    queue = next(
        (q for q in deployment.of_type("aws:sqs/queue:Queue") if q.outputs.get("arn") == arn), None
    )
    if queue is None:
        return None
    return SqsPoller(
        client=clients("sqs"),
        queue_url=str(queue.outputs["url"]),
        queue_arn=arn,
        function=function,
        batch_size=int(mapping.inputs.get("batchSize") or 10),
        window_s=float(mapping.inputs.get("maximumBatchingWindowInSeconds") or 0),
        report_failures="ReportBatchItemFailures"
        in (mapping.inputs.get("functionResponseTypes") or []),
        region=region,
    )


def _stream_poller(
    mapping: Resource,
    function: LambdaFunction,
    deployment: Deployment,
    clients: Clients,
    region: str,
) -> Poller | None:
    return stream_poller(mapping, function, clients, region)


_FACTORIES: Final[dict[str, _Factory]] = {"sqs": _sqs_poller, "dynamodb": _stream_poller}
"""Event source service (from the source ARN) -> poller."""


def build_pollers(
    deployment: Deployment,
    functions: Mapping[str, LambdaFunction],
    clients: Clients,
    region: str,
) -> tuple[list[Poller], list[str]]:
    """Pollers for the program's event source mappings, and notes on the ones not emulated."""
    pollers: list[Poller] = []
    notes: list[str] = []
    for mapping in deployment.of_type("aws:lambda/eventSourceMapping:EventSourceMapping"):
        if mapping.inputs.get("enabled") is False:
            continue
        source = str(mapping.inputs.get("eventSourceArn") or "")
        service = source.split(":")[2] if source.count(":") >= 2 else ""
        function = functions.get(str(mapping.inputs.get("functionName")))
        factory = _FACTORIES.get(service)
        poller = (
            factory(mapping, function, deployment, clients, region)
            if factory is not None and function is not None
            else None
        )
        if poller is None:
            notes.append(f"event source mapping {mapping.name} ({service or source}): not emulated")
        else:
            pollers.append(poller)
    return pollers, notes
