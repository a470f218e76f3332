"""Routing shared by the API emulations: `/a/{b}/{proxy+}` path templates, route targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from localcloud.deploy.program import Resource
from localcloud.errors import LocalCloudError

__all__ = ["PathTemplate", "route_integration"]


def route_integration(route: Resource, integrations: Mapping[str, Resource]) -> Resource:
    """The integration an API Gateway v2 route targets (`integrations/<id>`)."""
    target = str(route.inputs.get("target") or "")
    integration = integrations.get(target.removeprefix("integrations/"))
    if integration is None:
        raise LocalCloudError(
            f"route {route.name}: target {target!r} is not a declared integration"
        )
    return integration


@dataclass(frozen=True)
class PathTemplate:
    """A route path with `{name}` variables and an optional trailing greedy `{name+}`."""

    text: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> PathTemplate:
        """`/a/{b}` -> template; the root is `/`."""
        return cls(text, tuple(s for s in text.split("/") if s))

    @property
    def greedy(self) -> bool:
        """Whether the last segment is `{name+}`."""
        return bool(self.segments) and self.segments[-1].endswith("+}")

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Sort key, most specific first: literal segments, then variables, greedy last."""
        literals = sum(1 for s in self.segments if not s.startswith("{"))
        return (int(self.greedy), -literals, -len(self.segments))

    def match(self, parts: list[str]) -> dict[str, str] | None:
        """Path parameters if `parts` (the request path split on `/`) matches, else None."""
        segments = self.segments
        params: dict[str, str] = {}
        if self.greedy:
            if len(parts) < len(segments):
                return None
            fixed = segments[:-1]
        else:
            if len(parts) != len(segments):
                return None
            fixed = segments
        for segment, part in zip(fixed, parts, strict=False):
            if segment.startswith("{"):
                params[segment[1:-1]] = part
            elif segment != part:
                return None
        if self.greedy:
            params[segments[-1][1:-2]] = "/".join(parts[len(fixed) :])
        return params
