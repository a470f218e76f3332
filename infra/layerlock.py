"""The layer's requirements pinned from `uv.lock`: `python -m infra.layerlock [--write]`.

The Lambda layer is built by pip for the function's platform (`infra/packaging.py`), outside the
project's venv, from `handlers/requirements.txt`. That file pins the layer's packages and
everything they need to the versions `uv.lock` holds, so the functions run exactly the pydantic
that the tests ran. `make lock` rewrites it after `uv lock`; a test fails when it is stale.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from cliargs import UsageParser
from infra.packaging import PROJECT_ROOT

__all__ = ["LAYER_ROOTS", "REQUIREMENTS", "main", "pinned_requirements"]

LAYER_ROOTS: Final = ("pydantic",)
"""Third-party packages the handlers import; boto3 is the Lambda runtime's own."""
REQUIREMENTS: Final = PROJECT_ROOT / "handlers" / "requirements.txt"
LOCK: Final = PROJECT_ROOT / "uv.lock"
_HEADER: Final = (
    "# Third-party runtime dependencies of the Lambda package, staged into the layer.\n"
    "# boto3 is provided by the Lambda Python runtime and is not bundled.\n"
    "# Generated from uv.lock by `python -m infra.layerlock --write` (`make lock`): do not edit.\n"
)


def pinned_requirements(lock: Path = LOCK, roots: Sequence[str] = LAYER_ROOTS) -> str:
    """`handlers/requirements.txt` as the lock pins it: `roots` and their dependencies."""
    packages: dict[str, dict[str, Any]] = {
        package["name"]: package for package in tomllib.loads(lock.read_text())["package"]
    }
    wanted: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        if name not in packages:
            raise KeyError(f"{name} is not in {lock.name}: add it to pyproject.toml and lock")
        wanted.add(name)
        pending.extend(dep["name"] for dep in packages[name].get("dependencies", []))
    pins = "".join(f"{name}=={packages[name]['version']}\n" for name in sorted(wanted))
    return _HEADER + pins


def main(argv: Sequence[str] | None = None) -> int:
    """Print the pinned requirements, or write them (`--write`), or check them (`--check`)."""
    parser = UsageParser(prog="python -m infra.layerlock", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write {REQUIREMENTS.name}")
    mode.add_argument("--check", action="store_true", help="exit 1 if it differs from the lock")
    args = parser.parse_args(argv)
    text = pinned_requirements()
    if args.write:
        REQUIREMENTS.write_text(text)
    elif args.check:
        if REQUIREMENTS.read_text() != text:
            print(f"{REQUIREMENTS} is stale: run `make lock`", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
