"""Where a stack is and the credentials it takes: explicit, an outputs file, a Pulumi stack, env.

The keys are the stack's export names (the root project's `infra/outputs.py`; this package cannot
import it, and a root test checks both spell them alike). The environment variable of a key is
`MARKETSTREAM_` + the key upper-cased, e.g. `MARKETSTREAM_INGEST_URL`.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from marketstream.errors import ConfigError

__all__ = ["ENV_PREFIX", "OUTPUT_KEYS", "Endpoints"]

ENV_PREFIX: Final = "MARKETSTREAM_"
OUTPUT_KEYS: Final = {
    "ingest_url": "ingest_url",
    "query_url": "query_base_url",
    "ws_url": "ws_url",
    "ingest_token": "ingest_token",
    "api_key": "query_api_key",
    "backfill_token": "backfill_token",
    "read_token": "read_token",
}
"""Field of `Endpoints` -> the stack export it comes from."""
_PULUMI_TIMEOUT_S: Final = 120.0


@dataclass(frozen=True, kw_only=True)
class Endpoints:
    """A stack's URLs and credentials; what a route needs and is missing fails on first use."""

    ingest_url: str = ""
    """Full URL of `POST /ingest`."""
    query_url: str = ""
    """Base URL of `/query`, `/latest`, `/bars`."""
    ws_url: str = ""
    """The live WebSocket URL."""
    ingest_token: str = ""
    """Bearer token of live ingest (ticks inside the live window)."""
    api_key: str = ""
    """`x-api-key` of the query API."""
    backfill_token: str = ""
    """Bearer token of backfill (ticks older than the live window)."""
    read_token: str = ""
    """Token of the live WebSocket (read only)."""

    def __post_init__(self) -> None:
        for name in ("ingest_url", "query_url", "ws_url"):
            url = getattr(self, name)
            if url and not url.startswith(("http://", "https://", "ws://", "wss://")):
                raise ConfigError(f"{name} must be an http(s):// or ws(s):// URL, not {url!r}")
        object.__setattr__(self, "query_url", self.query_url.rstrip("/"))

    def need(self, name: str) -> str:
        """The value of field `name`, or ConfigError naming where it comes from."""
        value = str(getattr(self, name))
        if not value:
            key = OUTPUT_KEYS[name]
            raise ConfigError(
                f"no {name}: give it, or the stack output {key!r}, or {ENV_PREFIX}{key.upper()}"
            )
        return value

    @classmethod
    def from_mapping(cls, outputs: Mapping[str, Any]) -> Endpoints:
        """From a stack's outputs as a dict (export name -> value); other keys are ignored."""
        values: dict[str, str] = {}
        for name, key in OUTPUT_KEYS.items():
            value = outputs.get(key)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"stack output {key!r} is not text")
            if value:
                values[name] = value
        return cls(**values)

    @classmethod
    def from_outputs(cls, path: str | os.PathLike[str]) -> Endpoints:
        """From an outputs file (the local cloud's `outputs.json`, or saved stack outputs)."""
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(f"cannot read outputs file {os.fspath(path)!r}: {reason}") from None
        except ValueError:
            raise ConfigError(f"outputs file {os.fspath(path)!r} is not JSON") from None
        if not isinstance(document, dict):
            raise ConfigError(f"outputs file {os.fspath(path)!r} is not a JSON object")
        return cls.from_mapping(document)

    @classmethod
    def from_stack_json(cls, text: str) -> Endpoints:
        """From the text of `pulumi stack output --json --show-secrets`."""
        try:
            document = json.loads(text)
        except ValueError:
            raise ConfigError("pulumi stack output is not JSON") from None
        if not isinstance(document, dict):
            raise ConfigError("pulumi stack output is not a JSON object")
        return cls.from_mapping(document)

    @classmethod
    def from_stack(cls, stack: str, *, cwd: str | os.PathLike[str] | None = None) -> Endpoints:
        """Run `pulumi stack output --json --show-secrets --stack STACK` and read its outputs."""
        command = ["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", stack]
        try:
            done = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                command,
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=_PULUMI_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError:
            raise ConfigError("the pulumi CLI is not on PATH (needed by --stack)") from None
        except subprocess.TimeoutExpired:
            raise ConfigError(f"pulumi stack output took over {_PULUMI_TIMEOUT_S:g} s") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ConfigError(f"pulumi stack output --stack {stack} failed: {last}")
        return cls.from_stack_json(done.stdout)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Endpoints:
        """From `MARKETSTREAM_<EXPORT NAME>` variables, e.g. `MARKETSTREAM_QUERY_API_KEY`."""
        env = os.environ if environ is None else environ
        return cls.from_mapping(
            {key: env.get(ENV_PREFIX + key.upper(), "") for key in OUTPUT_KEYS.values()}
        )

    def merged(self, other: Endpoints) -> Endpoints:
        """These values, with the empty ones taken from `other`."""
        return Endpoints(
            **{f.name: getattr(self, f.name) or getattr(other, f.name) for f in fields(self)}
        )
