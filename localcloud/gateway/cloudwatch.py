"""The program's CloudWatch dashboards as pages of the gateway, drawn from the local CloudWatch.

`/_localcloud/cloudwatch/dashboards/<name>` serves the page (`console/`, drawing with the uPlot
vendored in the project's `dashboard/`); `/_localcloud/dashboards/<name>/data` answers the
dashboard as declared (its JSON body, from moto's GetDashboard) with each metric widget's series
read by GetMetricData from moto, and each alarm widget's alarms by DescribeAlarms: what the
CloudWatch console would draw, from the same APIs. Locally a widget's period is
`LOCAL_PERIOD_S` and the window the last `minutes` (default 10), so a few minutes of traffic draw
a curve; on AWS the declared period (60 s) applies. Metric rows are CloudWatch's compact form
`[namespace, name, dimension, value, ..., {options}]`, with `"."` repeating the row above.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from aiohttp import web

__all__ = ["CONSOLE_PREFIX", "LOCAL_PERIOD_S", "DashboardConsole", "widget_queries"]

CONSOLE_PREFIX: Final = "/_localcloud/cloudwatch"
LOCAL_PERIOD_S: Final = 5
"""A widget's period locally (the metrics reach moto every 5 s)."""
_DEFAULT_MINUTES: Final = 10
_MAX_MINUTES: Final = 180
_PAGE: Final = Path(__file__).with_name("console")


def _rows(metrics: Sequence[Sequence[Any]]) -> list[tuple[list[str], dict[str, Any]]]:
    """Each metric row as (fields, options), `"."` filled in from the row above."""
    out: list[tuple[list[str], dict[str, Any]]] = []
    previous: list[str] = []
    for row in metrics:
        options = next((f for f in row if isinstance(f, dict)), {})
        fields = [str(f) for f in row if not isinstance(f, dict)]
        fields = [
            previous[i] if f == "." and i < len(previous) else f for i, f in enumerate(fields)
        ]
        previous = fields
        out.append((fields, dict(options)))
    return out


def widget_queries(
    widgets: Sequence[Mapping[str, Any]], period_s: int
) -> tuple[list[dict[str, Any]], dict[str, tuple[int, dict[str, Any]]]]:
    """GetMetricData queries for every metric row of every widget; id -> (widget, series meta)."""
    queries: list[dict[str, Any]] = []
    meta: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, widget in enumerate(widgets):
        if widget.get("type") != "metric":
            continue
        properties = widget.get("properties") or {}
        for number, (fields, options) in enumerate(_rows(properties.get("metrics") or [])):
            if len(fields) < 2 or len(fields) % 2:
                continue  # not [namespace, name, (dimension, value)*]: an expression row
            namespace, name, pairs = fields[0], fields[1], fields[2:]
            stat = str(options.get("stat") or properties.get("stat") or "Average")
            query_id = f"w{index}m{number}"
            queries.append(
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": name,
                            "Dimensions": [
                                {"Name": pairs[i], "Value": pairs[i + 1]}
                                for i in range(0, len(pairs), 2)
                            ],
                        },
                        "Period": period_s,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
            )
            meta[query_id] = (
                index,
                {
                    "label": str(options.get("label") or name),
                    "metric": f"{namespace} {name}",
                    "stat": stat,
                    "y_axis": "right" if options.get("yAxis") == "right" else "left",
                },
            )
    return queries, meta


class DashboardConsole:
    """Serves the program's dashboards, reading them and their data from moto's CloudWatch."""

    def __init__(
        self, cloudwatch: Any, names: Sequence[str], *, period_s: int = LOCAL_PERIOD_S
    ) -> None:
        self._cloudwatch = cloudwatch
        self.names = list(names)
        self.period_s = period_s

    def add_routes(self, app: web.Application, admin_prefix: str) -> None:
        """The page, its files, and the data endpoint."""
        app.router.add_get(CONSOLE_PREFIX, self._index)
        app.router.add_get(f"{CONSOLE_PREFIX}/", self._index)
        app.router.add_get(f"{CONSOLE_PREFIX}/dashboards/{{name}}", self._page)
        app.router.add_static(f"{CONSOLE_PREFIX}/static", _PAGE, show_index=False)
        app.router.add_get(f"{admin_prefix}/dashboards/{{name}}/data", self._data)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if len(self.names) == 1:
            raise web.HTTPFound(f"{CONSOLE_PREFIX}/dashboards/{self.names[0]}")
        links = "".join(
            f'<li><a href="{CONSOLE_PREFIX}/dashboards/{n}">{n}</a></li>' for n in self.names
        )
        return web.Response(
            text=f"<!doctype html><title>Dashboards</title><ul>{links}</ul>",
            content_type="text/html",
        )

    async def _page(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["name"] not in self.names:
            return _not_found(request.match_info["name"], self.names)
        return web.FileResponse(_PAGE / "index.html", headers={"Cache-Control": "no-cache"})

    async def _data(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.names:
            return _not_found(name, self.names)
        text = request.query.get("minutes", str(_DEFAULT_MINUTES))
        if not text.isdigit() or not 1 <= int(text) <= _MAX_MINUTES:
            return web.json_response(
                {
                    "error": "invalid_minutes",
                    "message": f"minutes must be a whole number from 1 to {_MAX_MINUTES}",
                },
                status=400,
            )
        body = await asyncio.to_thread(self.render, name, int(text))
        return web.json_response(body)

    def render(self, name: str, minutes: int) -> dict[str, Any]:
        """The dashboard with its data over the last `minutes`, as the page draws it."""
        declared = json.loads(
            self._cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"] or "{}"
        )
        widgets: list[dict[str, Any]] = list(declared.get("widgets") or [])
        end = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=self.period_s)
        start = end - timedelta(minutes=minutes)
        queries, meta = widget_queries(widgets, self.period_s)
        series: dict[int, list[dict[str, Any]]] = {}
        for i in range(0, len(queries), 500):  # GetMetricData's limit per call
            answer = self._cloudwatch.get_metric_data(
                MetricDataQueries=queries[i : i + 500],
                StartTime=start,
                EndTime=end,
                ScanBy="TimestampAscending",
            )
            for result in answer["MetricDataResults"]:
                index, info = meta[result["Id"]]
                points = sorted(
                    zip(
                        (t.timestamp() for t in result["Timestamps"]),
                        result["Values"],
                        strict=True,
                    )
                )
                series.setdefault(index, []).append(
                    {
                        **info,
                        "timestamps": [t for t, _ in points],
                        "values": [v for _, v in points],
                    }
                )
        out = []
        for index, widget in enumerate(widgets):
            properties = widget.get("properties") or {}
            entry = {
                "type": widget.get("type"),
                "x": widget.get("x", 0),
                "y": widget.get("y", 0),
                "width": widget.get("width", 6),
                "height": widget.get("height", 6),
                "title": properties.get("title", ""),
                "view": properties.get("view", "timeSeries"),
                "annotations": properties.get("annotations") or {},
                "series": series.get(index, []),
            }
            if widget.get("type") == "alarm":
                entry["alarms"] = self._alarms(properties.get("alarms") or [])
            out.append(entry)
        return {
            "name": name,
            "period_s": self.period_s,
            "start": start.timestamp(),
            "end": end.timestamp(),
            "widgets": out,
        }

    def _alarms(self, arns: Sequence[str]) -> list[dict[str, Any]]:
        names = [str(arn).rsplit(":", 1)[-1] for arn in arns]
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(names), 100):  # DescribeAlarms' limit of names
            answer = self._cloudwatch.describe_alarms(AlarmNames=names[i : i + 100])
            for alarm in answer.get("MetricAlarms", []):
                found[alarm["AlarmName"]] = {
                    "name": alarm["AlarmName"],
                    "state": alarm["StateValue"],
                    "reason": alarm.get("StateReason", ""),
                }
        return [
            found.get(n, {"name": n, "state": "INSUFFICIENT_DATA", "reason": ""}) for n in names
        ]


def _not_found(name: str, names: Sequence[str]) -> web.Response:
    return web.json_response(
        {
            "error": "no_such_dashboard",
            "message": f"no dashboard named {name!r}; the program declares: "
            + (", ".join(names) or "none"),
        },
        status=404,
    )
