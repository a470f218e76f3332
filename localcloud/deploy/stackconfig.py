"""A stack's configuration as the mock runtime takes it: `PULUMI_CONFIG`, a JSON object of strings.

Encrypted (`secure:`) values cannot be decrypted without the Pulumi CLI and the stack's key, so
each one is replaced by a value generated locally (and reported), never silently dropped.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from localcloud.errors import LocalCloudError

__all__ = ["StackConfig", "load_stack_config", "parse_override", "project_name"]


@dataclass(frozen=True)
class StackConfig:
    """The stack name and its `config:` block (namespaced keys, YAML values)."""

    stack: str
    values: Mapping[str, Any]
    generated_secrets: tuple[str, ...] = field(default=())
    """Keys whose `secure:` value was replaced by a locally generated one."""

    @property
    def region(self) -> str:
        """`aws:region`, default us-east-1."""
        return str(self.values.get("aws:region") or "us-east-1")


def load_stack_config(
    root: Path, stack: str, *, stack_file: Path | None = None, overrides: Mapping[str, Any] = {}
) -> StackConfig:
    """`Pulumi.<stack>.yaml` under `root` (or `stack_file`), with `overrides` applied on top."""
    path = stack_file or root / f"Pulumi.{stack}.yaml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LocalCloudError(f"cannot read stack file {path}: {exc}") from None
    raw = document.get("config") if isinstance(document, dict) else None
    if raw is not None and not isinstance(raw, dict):
        raise LocalCloudError(f"{path}: `config:` must be a mapping")
    project = project_name(root)
    values: dict[str, Any] = {}
    generated: list[str] = []
    for key, value in {**(raw or {}), **overrides}.items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = secrets.token_urlsafe(24)
            generated.append(full)
        values[full] = value
    return StackConfig(stack, values, tuple(generated))


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` (value parsed as YAML, so numbers and lists work); ValueError if malformed."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def project_name(root: Path) -> str:
    """The project's name from `Pulumi.yaml` (the namespace of unqualified keys)."""
    try:
        document = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return "project"
    name = document.get("name") if isinstance(document, dict) else None
    return str(name) if name else "project"
