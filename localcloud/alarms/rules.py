"""CloudWatch's rule for an alarm's next state from its last evaluation periods."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from localcloud.alarms.definition import (
    ALARM,
    COMPARISONS,
    INSUFFICIENT_DATA,
    OK,
    AlarmDefinition,
    State,
)

__all__ = ["Datapoint", "Verdict", "decide"]


@dataclass(frozen=True)
class Datapoint:
    """One period's value (None: no data for that period)."""

    at: datetime
    value: float | None


@dataclass(frozen=True)
class Verdict:
    """The state an evaluation decides, and CloudWatch's kind of reason for it."""

    state: State
    reason: str


def decide(
    definition: AlarmDefinition, window: Sequence[Datapoint], current: State
) -> Verdict | None:
    """The state after evaluating `window` (the last `evaluationPeriods` periods); None: keep.

    CloudWatch's rules: ALARM when at least `datapointsToAlarm` datapoints breach, missing ones
    counting as breaching only with `treatMissingData=breaching`. With no datapoint at all,
    `missing` gives INSUFFICIENT_DATA and `ignore` keeps the current state; otherwise OK.
    """
    compare, words = COMPARISONS[definition.comparison_operator]
    threshold = definition.threshold
    if threshold is None:
        raise ValueError(f"{definition.name}: no static threshold to compare with")
    present = [p for p in window if p.value is not None]
    missing = definition.evaluation_periods - len(present)
    breaching = [p for p in present if p.value is not None and compare(p.value, threshold)]
    treat = definition.treat_missing_data
    counted = len(breaching) + (missing if treat == "breaching" else 0)
    needed = definition.datapoints
    periods = definition.evaluation_periods
    if counted >= needed:
        extra = f" and {missing} missing treated as [Breaching]" if treat == "breaching" else ""
        return Verdict(
            ALARM,
            f"Threshold Crossed: {len(breaching)} out of the last {periods} datapoints "
            f"[{_values(breaching)}]{extra} {_was(counted)} {words} the threshold "
            f"({threshold}) (minimum {needed} datapoint{_s(needed)} for OK -> ALARM transition).",
        )
    if not present:
        if treat == "missing":
            return Verdict(
                INSUFFICIENT_DATA, f"Insufficient Data: {periods} datapoints were unknown."
            )
        if treat == "ignore":
            return None
        return Verdict(
            OK,
            f"Threshold Crossed: no datapoints were received for {periods} periods and "
            f"{periods} missing datapoints were treated as [NonBreaching].",
        )
    return Verdict(
        OK,
        f"Threshold Crossed: {len(breaching)} out of the last {periods} datapoints "
        f"[{_values(present)}] {_was(len(breaching))} {words} the threshold ({threshold}) "
        f"(minimum {needed} datapoint{_s(needed)} for OK -> ALARM transition).",
    )


def _values(points: Sequence[Datapoint]) -> str:
    return ", ".join(f"{float(p.value or 0)} ({p.at:%d/%m/%y %H:%M:%S})" for p in reversed(points))


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def _s(count: int) -> str:
    return "" if count == 1 else "s"
