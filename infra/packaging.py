"""Stage the Lambda code and its dependency layer as directories Pulumi can archive.

Pulumi hashes a `FileArchive` of a directory by its paths and contents, so staging the same
sources must give byte-identical trees: no pip `RECORD` files, fixed file modes, and no bytecode
but our own. Handlers go to the function archive and third-party packages to a layer, so a handler
edit uploads kilobytes. The layer is built once per (requirements, platform, Python version,
bytecode compiler) and cached under `.build/layer/<key>/`, so later runs are fast and offline.

Both archives carry bytecode compiled by the runtime's Python version (`compile_bytecode`):
Lambda's code and layer directories are read-only, so without it every cold start compiles every
module it imports from source. It is deterministic: `unchecked-hash` pycs (no timestamps; Python
loads them without checking the source), the source paths Lambda will see (`/var/task`,
`/opt/python`), a fixed hash seed, one process compiling in a fixed order.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import pulumi

__all__ = [
    "BUILD_DIR",
    "BYTECODE_PYTHON_ENV",
    "LAYER_MODE_ENV",
    "PROJECT_ROOT",
    "Compiler",
    "PackagingError",
    "Staged",
    "bytecode_compiler",
    "compile_bytecode",
    "layer_key",
    "stage_function",
    "stage_layer",
    "tree_hash",
]

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
BUILD_DIR: Final = PROJECT_ROOT / ".build"

LAYER_MODE_ENV: Final = "MARKETSTREAM_LAYER_BUILD"
"""`auto` (default): use the cache, pip-install on a miss; `offline`: use the cache, fail on a
miss; `skip`: a placeholder layer holding only the layer's key, for runs that only inspect the
declared resources."""

LayerMode = Literal["auto", "offline", "skip"]

BYTECODE_PYTHON_ENV: Final = "MARKETSTREAM_BYTECODE_PYTHON"
"""The interpreter that compiles the archives' bytecode (default: `python<runtime version>` on
PATH). It must be the runtime's Python version: Lambda never loads another version's bytecode."""
FUNCTION_ROOT: Final = "/var/task"
"""Where Lambda puts the function code (the source paths the bytecode names)."""
LAYER_ROOT: Final = "/opt"
"""Where Lambda extracts a layer (its `python/` directory is on `sys.path`)."""

_EXCLUDED_DIRS: Final = frozenset(
    {"__pycache__", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}
)
_EXCLUDED_SUFFIXES: Final = (".pyc", ".pyo")
_EXCLUDED_FILES: Final = frozenset({"requirements.txt", ".DS_Store"})
# pip writes these per install (paths, installer name, timestamps): they make layers drift.
_PIP_NOISE: Final = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
_LAYER_FORMAT: Final = 2
"""Bump when the layer build changes, so stale caches are not reused."""


class PackagingError(pulumi.RunError):
    """The code or the layer could not be staged."""


@dataclass(frozen=True)
class Compiler:
    """An interpreter that compiles bytecode, and its exact version (part of the layer's key)."""

    path: str
    version: str
    """`major.minor.micro`: another micro version may compile other bytes."""


def bytecode_compiler(runtime: str) -> Compiler | None:
    """An interpreter of `runtime`'s Python version, or None if there is none here.

    `MARKETSTREAM_BYTECODE_PYTHON` names it explicitly (an error if it is not that version);
    otherwise `python<version>` on PATH is used if it runs and is that version.
    """
    wanted = _python_version(runtime)
    explicit = os.environ.get(BYTECODE_PYTHON_ENV, "")
    path = shutil.which(explicit or f"python{wanted}")
    version = _version_of(path) if path else None
    if version is not None and version.rsplit(".", 1)[0] == wanted:
        return Compiler(str(path), version)
    if explicit:
        raise PackagingError(
            f"{BYTECODE_PYTHON_ENV}={explicit}: not a Python {wanted} interpreter "
            f"(found {version or 'nothing runnable'})"
        )
    return None


def _version_of(python: str) -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - an interpreter found on PATH or named by the user
            [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def compile_bytecode(root: Path, compiler: Compiler, prefix: str) -> None:
    """Write `unchecked-hash` bytecode beside every module under `root`, naming its source as
    `prefix/<path under root>` (where Lambda will find it)."""
    command = [
        compiler.path, "-m", "compileall", "-q",
        "--invalidation-mode", "unchecked-hash",
        "-s", str(root), "-p", prefix,
        str(root),
    ]  # fmt: skip
    # A fixed hash seed: set constants (`x in {"a", "b"}`) are marshalled in hash order.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)  # noqa: S603
    if result.returncode != 0:
        raise PackagingError(
            f"compileall failed in {root}:\n{result.stdout}{result.stderr}".strip()
        )


@dataclass(frozen=True)
class Staged:
    """A staged directory and the content hash of everything in it."""

    path: Path
    digest: str

    def archive(self) -> pulumi.FileArchive:
        """A Pulumi archive of the directory (hashed by Pulumi from paths and contents)."""
        # A path relative to the project keeps state the same across checkouts; Pulumi runs the
        # program from the project directory.
        try:
            path = os.path.relpath(self.path, Path.cwd())
        except ValueError:  # another drive on Windows
            path = str(self.path)
        return pulumi.FileArchive(path)


def tree_hash(root: Path) -> str:
    """SHA-256 over the sorted relative paths and contents of every file under `root`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix().encode()
        data = path.read_bytes()
        digest.update(len(relative).to_bytes(8, "big") + relative)
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def stage_function(
    source: Path = PROJECT_ROOT / "handlers",
    dest: Path = BUILD_DIR / "function",
    *,
    bytecode: Compiler | None = None,
) -> Staged:
    """Copy the `handlers` package to `dest/handlers/`, without caches or tests, with bytecode
    compiled by `bytecode` (none if None; never the bytecode of the source tree)."""
    if not (source / "__init__.py").is_file():
        raise PackagingError(f"{source} is not a Python package")
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    _copy_tree(source, tmp / source.name)
    if bytecode is not None:
        compile_bytecode(tmp, bytecode, FUNCTION_ROOT)
    _normalise_modes(tmp)
    digest = tree_hash(tmp)
    # Keep an identical existing tree untouched, so file times do not change for nothing.
    if dest.is_dir() and tree_hash(dest) == digest:
        shutil.rmtree(tmp)
    else:
        _replace_dir(tmp, dest)
    return Staged(dest, digest)


def layer_key(
    requirements: Path, architecture: str, runtime: str, *, bytecode: Compiler | None = None
) -> str:
    """Cache key of a layer: the requirements, the target platform and Python version, and the
    exact version of the interpreter that compiled its bytecode (None: no bytecode)."""
    spec = {
        "format": _LAYER_FORMAT,
        "requirements": requirements.read_text(encoding="utf-8"),
        "platform": _pip_platform(architecture),
        "python": _python_version(runtime),
        "bytecode": bytecode.version if bytecode else None,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:24]


def stage_layer(
    requirements: Path,
    architecture: str,
    runtime: str,
    *,
    build_dir: Path = BUILD_DIR / "layer",
    mode: LayerMode | None = None,
    bytecode: Compiler | None = None,
) -> Staged:
    """The layer directory (`python/` at its root) for these requirements, built if not cached,
    with bytecode compiled by `bytecode` (none if None)."""
    mode = mode or _layer_mode()
    key = layer_key(requirements, architecture, runtime, bytecode=bytecode)
    if mode == "skip":
        # No packages, only the key of the layer it stands for: mock runs (the offline preview)
        # still see a change of the requirements, the platform or the Python version.
        placeholder = build_dir / f"placeholder-{key}"
        (placeholder / "python").mkdir(parents=True, exist_ok=True)
        (placeholder / "layer-key").write_text(key + "\n", encoding="utf-8")
        return Staged(placeholder, tree_hash(placeholder))
    dest = build_dir / key
    marker = build_dir / f"{key}.json"
    # The marker is written last, so a half-built directory is never taken for a cache hit.
    if marker.is_file() and dest.is_dir():
        return Staged(dest, json.loads(marker.read_text(encoding="utf-8"))["digest"])
    if mode == "offline":
        raise PackagingError(
            f"layer {key} is not cached in {build_dir} and {LAYER_MODE_ENV}=offline; "
            "run once with network access (or set it to `skip` for mock-only runs)"
        )
    tmp = build_dir / f"{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    _pip_install(requirements, tmp / "python", architecture, runtime)
    _strip_pip_noise(tmp / "python")
    if bytecode is not None:
        compile_bytecode(tmp, bytecode, LAYER_ROOT)
    _normalise_modes(tmp)
    digest = tree_hash(tmp)
    _replace_dir(tmp, dest)
    marker.write_text(json.dumps({"digest": digest}), encoding="utf-8")
    return Staged(dest, digest)


def _layer_mode() -> LayerMode:
    value = os.environ.get(LAYER_MODE_ENV, "auto")
    modes: dict[str, LayerMode] = {"auto": "auto", "offline": "offline", "skip": "skip"}
    if value in modes:
        return modes[value]
    raise PackagingError(f"{LAYER_MODE_ENV}: must be one of auto, offline, skip (got {value!r})")


def _pip_platform(architecture: str) -> str:
    return "manylinux2014_aarch64" if architecture == "arm64" else "manylinux2014_x86_64"


def _python_version(runtime: str) -> str:
    return runtime.removeprefix("python")


def _pip_install(requirements: Path, target: Path, architecture: str, runtime: str) -> None:
    command = [
        sys.executable, "-m", "pip", "install",
        "--platform", _pip_platform(architecture),
        "--python-version", _python_version(runtime),
        "--implementation", "cp",
        "--only-binary=:all:",
        "--no-compile",  # else pip writes .pyc files for the host's Python
        "--disable-pip-version-check",
        "--quiet",
        "--target", str(target),
        "--requirement", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise PackagingError(f"pip could not build the layer:\n{result.stderr.strip()}")


def _copy_tree(source: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    for entry in sorted(source.iterdir()):
        if entry.is_dir():
            if entry.name not in _EXCLUDED_DIRS and not entry.name.startswith("."):
                _copy_tree(entry, dest / entry.name)
        elif entry.is_file() and _wanted(entry.name):
            # copyfile, not copy2: no timestamps or modes from the working tree.
            shutil.copyfile(entry, dest / entry.name)


def _wanted(name: str) -> bool:
    return name not in _EXCLUDED_FILES and not name.endswith(_EXCLUDED_SUFFIXES)


def _strip_pip_noise(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_dir() and path.name == "__pycache__":
            shutil.rmtree(path)
        elif path.is_file() and (
            path.name.endswith(_EXCLUDED_SUFFIXES)
            or (path.name in _PIP_NOISE and path.parent.name.endswith(".dist-info"))
        ):
            path.unlink()
    shutil.rmtree(root / "bin", ignore_errors=True)  # console scripts: useless in a layer


def _normalise_modes(root: Path) -> None:
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _replace_dir(new: Path, dest: Path) -> None:
    old = dest.with_name(f"{dest.name}.old-{os.getpid()}")
    if dest.exists():
        dest.rename(old)
    new.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
