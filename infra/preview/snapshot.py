"""One tree's resources as JSON: `python -m infra.preview.snapshot ROOT STACK [STACK ...]`.

Runs `ROOT/__main__.py` under the mock runtime with `MockAws` for each stack and prints
`{"<stack>": [resource, ...]}`: each resource's URN, type, name, parent URN and inputs, with
every secret replaced by a keyed digest (`MARKETSTREAM_PREVIEW_KEY`, random per preview, so equal
secrets compare equal and no value ever leaves this process) and every asset or archive by the
SHA-256 of its contents (archives of directories as `infra.packaging.tree_hash` computes it).

This module is this tree's code, but the program and the modules it imports are ROOT's: ROOT
may be another revision, whose `infra` differs from (or predates) this one. So this tree's
modules are dropped from `sys.modules` and ROOT takes its place on `sys.path` before the program
runs; the runner keeps working on the functions it already holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import pulumi
import yaml

from infra.mockaws import MockAws
from infra.mockrun import is_secret, plain, run_program
from infra.packaging import tree_hash

__all__ = ["ARCHIVE", "ASSET", "KEY_ENV", "SECRET", "main", "snapshot"]

KEY_ENV: Final = "MARKETSTREAM_PREVIEW_KEY"
"""Hex key of the secrets' digests; the preview sets one per run for both trees."""

SECRET: Final = "__secret__"
ARCHIVE: Final = "__archive__"
ASSET: Final = "__asset__"
"""Keys of the one-key objects that stand for a secret, an archive and an asset."""

_HERE: Final = Path(__file__).resolve().parents[2]


class SnapshotError(Exception):
    """The tree's program could not be run for a stack; the message is one line."""


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mask(value: Any, key: bytes) -> Any:
    """`value` as JSON data: secrets as keyed digests, assets and archives as content hashes."""
    if is_secret(value):
        text = json.dumps(plain(value), sort_keys=True, default=str)
        return {SECRET: hmac.new(key, text.encode(), hashlib.sha256).hexdigest()}
    if isinstance(value, pulumi.FileArchive):
        path = Path(value.path)
        return {ARCHIVE: tree_hash(path) if path.is_dir() else _file_digest(path)}
    if isinstance(value, pulumi.AssetArchive):
        return {ARCHIVE: _mask(dict(sorted(value.assets.items())), key)}
    if isinstance(value, pulumi.FileAsset):
        return {ASSET: _file_digest(Path(value.path))}
    if isinstance(value, pulumi.StringAsset):
        return {ASSET: hashlib.sha256(value.text.encode()).hexdigest()}
    if isinstance(value, pulumi.RemoteAsset | pulumi.RemoteArchive):
        return {ASSET: value.uri}
    if isinstance(value, pulumi.Resource):
        return {"urn": str(getattr(value, "_name", ""))}
    if isinstance(value, dict):
        return {str(k): _mask(v, key) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_mask(item, key) for item in value]
    return value


def _stack_config(root: Path, stack: str) -> dict[str, Any]:
    """The `config:` block of `ROOT/Pulumi.<stack>.yaml`; `secure:` values as placeholders."""
    path = root / f"Pulumi.{stack}.yaml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError:
        raise SnapshotError(f"no stack file {path.name}") from None
    except yaml.YAMLError as exc:
        raise SnapshotError(f"{path.name} is not valid YAML: {exc}") from None
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise SnapshotError(f"{path.name} has no `config:` mapping")
    # A `secure:` value cannot be decrypted offline. Its ciphertext stands in for it: the same
    # ciphertext gives the same placeholder (no change), a re-encrypted value a changed one.
    return {
        key: (
            "secure-" + hashlib.sha256(str(value["secure"]).encode()).hexdigest()[:16]
            if isinstance(value, dict) and set(value) == {"secure"}
            else value
        )
        for key, value in config.items()
    }


def _project(root: Path) -> str:
    try:
        document = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        raise SnapshotError("no readable Pulumi.yaml") from None
    name = document.get("name") if isinstance(document, dict) else None
    if not name:
        raise SnapshotError("Pulumi.yaml names no project")
    return str(name)


def _isolate(root: Path) -> None:
    """Make ROOT's modules the ones the program imports, not this tree's (see the docstring)."""
    prefixes = (str(Path(sys.prefix).resolve()), str(Path(sys.base_prefix).resolve()))
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or name == "__main__":
            continue
        path = str(Path(file).resolve())
        if path.startswith(str(_HERE) + os.sep) and not path.startswith(prefixes):
            del sys.modules[name]
    here = {str(_HERE), "", "."}
    sys.path[:] = [str(root), *(p for p in sys.path if str(Path(p).resolve()) not in here)]
    os.chdir(root)  # as `pulumi` runs the program: from the project directory


def snapshot(
    root: Path, stacks: Sequence[str], key: bytes, *, isolate: Callable[[Path], None] = _isolate
) -> dict[str, list[dict[str, Any]]]:
    """Every stack's resources declared by `root/__main__.py`, as JSON data, sorted by URN."""
    root = root.resolve()
    program = root / "__main__.py"
    if not program.is_file():
        raise SnapshotError("no __main__.py")
    project = _project(root)
    configs = {stack: _stack_config(root, stack) for stack in stacks}
    isolate(root)
    result: dict[str, list[dict[str, Any]]] = {}
    for stack in stacks:
        try:
            deployment = run_program(program, stack, configs[stack], MockAws(), project=project)
        except Exception as exc:  # the program's own error, whatever it is
            message = " ".join(str(exc).split()) or type(exc).__name__
            raise SnapshotError(f"stack {stack}: the program failed: {message}") from exc
        # Hashed now: the next stack's run restages the same build directories.
        result[stack] = sorted(
            (
                {
                    "urn": r.urn,
                    "type": r.typ,
                    "name": r.name,
                    "parent": r.parent,
                    "custom": r.custom,
                    "inputs": _mask(r.raw_inputs, key),
                }
                for r in deployment.resources
            ),
            key=lambda r: str(r["urn"]),
        )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Print the JSON snapshot of ROOT for the stacks named; one line on stderr and 1 if not."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print("usage: python -m infra.preview.snapshot ROOT STACK [STACK ...]", file=sys.stderr)
        return os.EX_USAGE
    key = bytes.fromhex(os.environ.get(KEY_ENV) or secrets.token_hex(32))
    try:
        # stdout carries the JSON alone: whatever the program prints goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            data = snapshot(Path(args[0]), args[1:], key)
    except SnapshotError as exc:
        print(exc, file=sys.stderr)
        return 1
    json.dump(data, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
