"""The base revision: resolved with git, checked out in a temporary worktree, always removed."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

__all__ = ["DEFAULT_BRANCHES", "CheckoutError", "RevisionError", "checkout", "repo_root", "resolve"]

DEFAULT_BRANCHES: Final = ("main", "origin/main")
"""The branch whose merge base with HEAD is the default base (a CI clone may only have
`origin/main`)."""


class RevisionError(Exception):
    """Not a repository, or a revision git does not know (a usage error)."""


class CheckoutError(Exception):
    """The revision exists but could not be checked out."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", *args],  # noqa: S607 - git from PATH, as a developer runs it
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def repo_root(cwd: Path) -> Path:
    """The top of the git working tree that holds `cwd`."""
    result = _git(cwd, "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        raise RevisionError(f"{cwd} is not in a git repository")
    return Path(result.stdout.strip())


def resolve(root: Path, rev: str | None, branches: Sequence[str] = DEFAULT_BRANCHES) -> str:
    """The commit `rev` names, or, without one, HEAD's merge base with the first of `branches`."""
    if rev is None:
        for branch in branches:
            if _git(root, "rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}").returncode:
                continue
            result = _git(root, "merge-base", "HEAD", branch)
            if result.returncode == 0:
                return result.stdout.strip()
            raise RevisionError(f"no merge base of HEAD and {branch}: pass --base")
        raise RevisionError(f"none of {', '.join(branches)} exists: pass --base")
    if rev.startswith("-"):
        raise RevisionError(f"unknown revision {rev!r}")
    result = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if result.returncode != 0:
        raise RevisionError(f"unknown revision {rev!r}")
    return result.stdout.strip()


@contextmanager
def checkout(root: Path, commit: str) -> Iterator[Path]:
    """`commit` checked out (detached) in a temporary worktree, removed on the way out."""
    parent = Path(tempfile.mkdtemp(prefix="marketstream-preview-"))
    path = parent / "base"
    try:
        result = _git(root, "worktree", "add", "--detach", "--force", str(path), commit)
        if result.returncode != 0:
            raise CheckoutError(f"cannot check out {commit[:12]}: {_last_line(result.stderr)}")
        yield path
    finally:
        _git(root, "worktree", "remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)
        _git(root, "worktree", "prune")
