"""Trees' resources as JSON: `python -m infra.preview.snapshot --stack S [--stack S] ROOT ...`.

Runs each `ROOT/__main__.py` under the mock runtime with `MockAws`, for each stack, and prints
one JSON list, an item per ROOT: `{"stacks": {"<stack>": [resource, ...]}}`, or `{"error": "one
line"}` for the first ROOT whose program cannot run (the ROOTs after it are not run). A resource
is its URN, type, name, parent URN and inputs, with every secret replaced by a keyed digest
(`MARKETSTREAM_PREVIEW_KEY`, random per preview, so equal secrets compare equal and no value
ever leaves this process) and every asset or archive by the SHA-256 of its contents (a
directory's as `infra.packaging.tree_hash` computes it).

This module is this tree's code, but each program and the modules it imports are its ROOT's: a
ROOT may be another revision, whose `infra` differs from (or predates) this one. So before each
ROOT runs, the project's modules are dropped from `sys.modules` and that ROOT alone takes their
place on `sys.path`; the runner keeps working on the functions it already holds. One process for
every ROOT: the AWS SDK's modules, most of the cost of a run, are imported once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import pulumi
import yaml

from cliargs import UsageParser
from infra.mockaws import MockAws
from infra.mockrun import is_secret, plain, run_program
from infra.packaging import tree_hash

__all__ = ["ARCHIVE", "ASSET", "KEY_ENV", "SECRET", "main", "snapshot", "snapshot_trees"]

KEY_ENV: Final = "MARKETSTREAM_PREVIEW_KEY"
"""Hex key of the secrets' digests; the preview sets one per run for both trees."""

SECRET: Final = "__secret__"  # noqa: S105 - a marker key, not a secret
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
        return {"resource": str(getattr(value, "_name", ""))}
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


def _isolate(root: Path, others: Sequence[Path]) -> None:
    """Make ROOT's modules the ones its program imports (see the module's docstring)."""
    trees = [str(_HERE), *(str(p) for p in others)]
    installed = (str(Path(sys.prefix).resolve()), str(Path(sys.base_prefix).resolve()))
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or name == "__main__":
            continue
        path = str(Path(file).resolve())
        if any(path.startswith(t + os.sep) for t in trees) and not path.startswith(installed):
            del sys.modules[name]
    drop = {*trees, str(Path.cwd()), ""}
    sys.path[:] = [str(root), *(p for p in sys.path if str(Path(p).resolve()) not in drop)]
    os.chdir(root)  # as `pulumi` runs the program: from the project directory


def snapshot(root: Path, stacks: Sequence[str], key: bytes) -> dict[str, list[dict[str, Any]]]:
    """Every stack's resources declared by `root/__main__.py`, as JSON data, sorted by URN."""
    program = root / "__main__.py"
    if not program.is_file():
        raise SnapshotError("no __main__.py")
    project = _project(root)
    configs = {stack: _stack_config(root, stack) for stack in stacks}
    result: dict[str, list[dict[str, Any]]] = {}
    for stack in stacks:
        try:
            deployment = run_program(program, stack, configs[stack], MockAws(), project=project)
        except (Exception, SystemExit) as exc:  # the program's own error, whatever it is
            # A RunError's message is written for people (ConfigError names the key); for
            # anything else, the exception's type says what went wrong.
            text = str(exc) if isinstance(exc, pulumi.RunError) else f"{type(exc).__name__}: {exc}"
            message = " ".join(text.split())
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


def snapshot_trees(roots: Sequence[Path], stacks: Sequence[str], key: bytes) -> list[Any]:
    """Each root's snapshot (`{"stacks": ...}`), up to the first that fails (`{"error": ...}`)."""
    roots = [root.resolve() for root in roots]
    results: list[Any] = []
    for root in roots:
        try:
            _isolate(root, roots)
            results.append({"stacks": snapshot(root, stacks, key)})
        except SnapshotError as exc:
            results.append({"error": str(exc)})
            break
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Print the JSON snapshots of the ROOTs for the stacks named (64 on a bad command line)."""
    parser = UsageParser(prog="python -m infra.preview.snapshot", name="infra.preview.snapshot")
    parser.add_argument("--stack", action="append", required=True)
    parser.add_argument("roots", metavar="ROOT", nargs="+", type=Path)
    args = parser.parse_args(argv)
    key = bytes.fromhex(os.environ.get(KEY_ENV) or secrets.token_hex(32))
    # stdout carries the JSON alone: whatever a program prints goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        results = snapshot_trees(args.roots, args.stack, key)
    json.dump(results, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
