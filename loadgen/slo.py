"""Thresholds that decide the exit code: `--slo "p95<150ms,p99<300ms,errors<0.1%,rate>=0.98"`.

Latency rules apply to the corrected latency (from the planned send time) unless prefixed with
`raw.`; any rule may be scoped to one endpoint with a prefix such as `ingest.` or `query.`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from loadgen.errors import UsageError
from loadgen.payloads import ENDPOINT_NAMES
from loadgen.stats import PERCENTILES

__all__ = ["SloResult", "SloRule", "evaluate", "parse_slo"]

_RULE: Final = re.compile(
    r"^(?:(?P<endpoint>(?!raw\.)[a-z]+)\.)?(?P<raw>raw\.)?"
    r"(?P<metric>p\d+(?:\.\d+)?|max|mean|errors|rate)\s*"
    r"(?P<op><=|>=|<|>)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>us|ms|s|%)?$"
)
_OPS: Final[Mapping[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TO_MS: Final = {"us": 0.001, "ms": 1.0, "s": 1000.0, None: 1.0}
_LATENCY_METRICS: Final = (*(f"p{p:g}" for p in PERCENTILES), "max", "mean")


@dataclass(frozen=True, kw_only=True, slots=True)
class SloRule:
    """One threshold, e.g. `p95<150ms`; latency limits are held in ms, ratios as fractions."""

    text: str
    metric: str
    op: str
    limit: float
    endpoint: str | None = None
    raw: bool = False

    def actual(self, summary: Mapping[str, Any]) -> float | None:
        """The figure this rule checks in a summary (None if its endpoint had no traffic)."""
        if self.metric == "rate":
            return float(summary["rate"]["ratio"])
        scope = summary if self.endpoint is None else summary["by_endpoint"].get(self.endpoint)
        if scope is None:
            return None
        if self.metric == "errors":
            return float(scope["requests"]["error_ratio"])
        latency = scope["latency_ms"]["raw" if self.raw else "corrected"]
        return float(latency[self.metric])

    def holds(self, actual: float) -> bool:
        """Whether the actual figure satisfies the rule."""
        return _OPS[self.op](actual, self.limit)

    def show(self, actual: float) -> str:
        """The actual figure in the rule's own units."""
        if self.metric in ("errors", "rate"):
            return f"{actual * 100:.3g}%"
        return f"{actual:.3f}ms"


@dataclass(frozen=True, slots=True)
class SloResult:
    """A rule and how the run measured against it."""

    rule: SloRule
    actual: float | None
    passed: bool

    def describe(self) -> str:
        """`p95<150ms: actual 212.000ms` style one-liner."""
        shown = "no traffic" if self.actual is None else f"actual {self.rule.show(self.actual)}"
        return f"{self.rule.text}: {shown}"


def parse_slo(text: str) -> tuple[SloRule, ...]:
    """Parse a comma-separated rule list; raise UsageError naming the bad rule."""
    rules: list[SloRule] = []
    for part in (p.strip() for p in text.split(",")):
        match = _RULE.match(part)
        if not part or match is None:
            raise UsageError(f"bad SLO rule {part!r}: use e.g. p95<150ms, errors<0.1%, rate>=0.98")
        metric, unit, endpoint = match["metric"], match["unit"], match["endpoint"]
        if endpoint is not None and endpoint not in ENDPOINT_NAMES:
            raise UsageError(f"bad SLO rule {part!r}: unknown endpoint {endpoint!r}")
        value = float(match["value"])
        if metric in ("errors", "rate"):
            if unit not in (None, "%"):
                raise UsageError(f"bad SLO rule {part!r}: {metric} takes a fraction or a %")
            limit = value / 100.0 if unit == "%" else value
        else:
            if unit == "%":
                raise UsageError(f"bad SLO rule {part!r}: latency takes us, ms or s")
            if _canonical(metric) not in _LATENCY_METRICS:
                known = ", ".join(_LATENCY_METRICS)
                raise UsageError(f"bad SLO rule {part!r}: latency metric must be one of {known}")
            limit = value * _TO_MS[unit]
        if metric == "rate" and endpoint is not None:
            raise UsageError(f"bad SLO rule {part!r}: rate applies to the whole run")
        rules.append(
            SloRule(
                text=part,
                metric=_canonical(metric),
                op=match["op"],
                limit=limit,
                endpoint=endpoint,
                raw=match["raw"] is not None,
            )
        )
    return tuple(rules)


def _canonical(metric: str) -> str:
    """`p99.90` -> `p99.9`, matching the summary's percentile keys."""
    if metric.startswith("p"):
        return f"p{float(metric[1:]):g}"
    return metric


def evaluate(rules: tuple[SloRule, ...], summary: Mapping[str, Any]) -> list[SloResult]:
    """Check every rule against a run summary."""
    results: list[SloResult] = []
    for rule in rules:
        actual = rule.actual(summary)
        results.append(SloResult(rule, actual, actual is None or rule.holds(actual)))
    return results
