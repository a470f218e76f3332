"""Build a poller for each of the program's event source mappings, by the source's service."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from localcloud.deploy.program import Deployment, Resource
from localcloud.runtime.functions import LambdaFunction
from localcloud.sources.base import Clients, MappingSettings, Poller
from localcloud.sources.sqs import sqs_poller
from localcloud.sources.streams import stream_poller

__all__ = ["build_pollers", "mapping_settings"]

_DEFAULT_BATCH: Final = {"sqs": 10, "dynamodb": 100}
"""Lambda's default batch size per source service."""


def mapping_settings(
    mapping: Resource, function: LambdaFunction, service: str, region: str
) -> MappingSettings:
    """What the mapping declares that every kind of poller honours."""
    inputs = mapping.inputs
    filters = []
    for entry in (inputs.get("filterCriteria") or {}).get("filters") or []:
        pattern = entry.get("pattern") if isinstance(entry, dict) else None
        if pattern:
            filters.append(json.loads(pattern) if isinstance(pattern, str) else dict(pattern))
    return MappingSettings(
        source_arn=str(inputs["eventSourceArn"]),
        function=function,
        batch_size=int(inputs.get("batchSize") or _DEFAULT_BATCH.get(service, 10)),
        window_s=float(inputs.get("maximumBatchingWindowInSeconds") or 0),
        report_failures="ReportBatchItemFailures" in (inputs.get("functionResponseTypes") or []),
        filters=tuple(filters),
        region=region,
    )


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
        poller: Poller | None = None
        if function is not None:
            settings = mapping_settings(mapping, function, service, region)
            if service == "sqs":
                poller = sqs_poller(settings, deployment, clients)
            elif service == "dynamodb":
                poller = stream_poller(mapping, settings, clients)
        if poller is None:
            notes.append(f"event source mapping {mapping.name} ({service or source}): not emulated")
        else:
            pollers.append(poller)
    return pollers, notes
