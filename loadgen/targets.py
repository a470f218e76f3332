"""Where the load goes: endpoints and credentials from a Pulumi stack, an outputs file or flags."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import outputs
from loadgen.errors import TargetError

__all__ = ["Targets", "from_outputs", "load_outputs_file", "load_stack_outputs"]

_REDACTED = "***"


@dataclass(frozen=True, kw_only=True, slots=True)
class Targets:
    """The endpoints under load and their credentials."""

    ingest_url: str | None
    query_base_url: str | None
    token: str | None = None
    api_key: str | None = None
    source: str = "explicit"
    """Where they came from: `stack:NAME`, `outputs:PATH` or `explicit`."""

    def __post_init__(self) -> None:
        for name in ("ingest_url", "query_base_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("http://", "https://")):
                raise TargetError(f"{name} must be an http(s) URL (got {url!r})")

    def redacted(self) -> dict[str, str | None]:
        """The endpoints as recorded in the summary: URLs kept, secrets replaced."""
        return {
            "ingest_url": self.ingest_url,
            "query_base_url": self.query_base_url,
            "token": _REDACTED if self.token else None,
            "api_key": _REDACTED if self.api_key else None,
            "source": self.source,
        }

    def with_overrides(
        self,
        *,
        ingest_url: str | None = None,
        query_base_url: str | None = None,
        token: str | None = None,
        api_key: str | None = None,
    ) -> Targets:
        """These targets with any explicitly given value replacing the resolved one."""
        return Targets(
            ingest_url=ingest_url or self.ingest_url,
            query_base_url=(query_base_url or self.query_base_url or "").rstrip("/") or None,
            token=token or self.token,
            api_key=api_key or self.api_key,
            source=self.source,
        )


def from_outputs(values: dict[str, Any], *, source: str) -> Targets:
    """Targets from a stack-outputs mapping (the shape `pulumi stack output --json` prints)."""

    def text(key: str) -> str | None:
        value = values.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise TargetError(f"{source}: output {key!r} is not a string")
        return value

    base = text(outputs.QUERY_BASE_URL)
    return Targets(
        ingest_url=text(outputs.INGEST_URL),
        query_base_url=base.rstrip("/") if base else None,
        token=text(outputs.INGEST_TOKEN),
        api_key=text(outputs.QUERY_API_KEY),
        source=source,
    )


def load_outputs_file(path: Path) -> Targets:
    """Targets from a JSON outputs file (the local cloud writes `.localcloud/outputs.json`)."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetError(f"outputs file {path} not found (is the local cloud running?)") from None
    except (OSError, ValueError) as exc:
        raise TargetError(f"cannot read outputs file {path}: {exc}") from None
    if not isinstance(values, dict):
        raise TargetError(f"outputs file {path} is not a JSON object")
    return from_outputs(values, source=f"outputs:{path}")


def load_stack_outputs(stack: str, *, pulumi: str = "pulumi") -> Targets:
    """Targets from `pulumi stack output --json --show-secrets --stack STACK`."""
    exe = shutil.which(pulumi)
    if exe is None:
        raise TargetError(
            f"the Pulumi CLI ({pulumi!r}) is not on PATH: install it, or use --outputs/--ingest-url"
        )
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [exe, "stack", "output", "--json", "--show-secrets", "--stack", stack],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TargetError(f"pulumi stack output failed for stack {stack!r}: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise TargetError(f"pulumi stack output failed for stack {stack!r}: {last}")
    try:
        values = json.loads(done.stdout)
    except ValueError:
        raise TargetError(f"pulumi stack output for {stack!r} is not JSON") from None
    if not isinstance(values, dict):
        raise TargetError(f"pulumi stack output for {stack!r} is not a JSON object")
    return from_outputs(values, source=f"stack:{stack}")
