"""`python -m infra.preview` on a temporary clone: each test edits the clone's working tree and
compares it with the clone's HEAD; the clone is restored after each test.

The preview under test is this tree's (`PYTHONPATH`, with `PYTHONSAFEPATH` so the clone's copy
is not imported from the working directory); the programs it runs are the clone's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from infra.mockaws import MockAws
from infra.preview.worktree import CheckoutError, checkout
from tests.infra.pulumi_mocks import ROOT

GIT = ("git", "-c", "user.name=preview-test", "-c", "user.email=preview@test.invalid")


def _git(clone: Path, *args: str) -> str:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [*GIT, *args], cwd=clone, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def shared_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clone of this repository's HEAD for every test of the module."""
    clone = tmp_path_factory.mktemp("preview") / "repo"
    subprocess.run([*GIT, "clone", "--quiet", str(ROOT), str(clone)], check=True)  # noqa: S603
    return clone


@pytest.fixture
def clone(shared_clone: Path) -> Iterator[Path]:
    """The shared clone, back at its first commit and clean after the test."""
    first = _git(shared_clone, "rev-parse", "HEAD").strip()
    yield shared_clone
    _git(shared_clone, "reset", "--quiet", "--hard", first)
    _git(shared_clone, "clean", "--quiet", "-fdx", "--exclude=.build")


def preview(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run this tree's preview in `clone` against its HEAD (unless `--base` is given)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONSAFEPATH": "1"}
    argv = [sys.executable, "-m", "infra.preview", *args]
    if "--base" not in args:
        argv += ["--base", "HEAD"]
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv, cwd=clone, env=env, capture_output=True, text=True, check=False
    )


def ok(clone: Path, *args: str) -> str:
    """The report of a preview that must succeed."""
    result = preview(clone, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def edit_config(clone: Path, stack: str, key: str, value: object) -> None:
    """Set `marketstream:<key>` in the clone's `Pulumi.<stack>.yaml`."""
    path = clone / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["config"][f"marketstream:{key}"] = value
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def config_of(clone: Path, stack: str, key: str) -> object:
    """`marketstream:<key>` of the clone's `Pulumi.<stack>.yaml`."""
    document = yaml.safe_load((clone / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return document["config"][f"marketstream:{key}"]


def section(report: str, stack: str) -> str:
    """The text report's part about one stack."""
    match = re.search(rf"^Stack {stack}: .*?(?=^Stack |^Computed offline)", report, re.M | re.S)
    assert match, report
    return match.group(0)


def worktrees(clone: Path) -> list[str]:
    """The clone's worktrees (the clone itself first)."""
    return [
        line
        for line in _git(clone, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def test_no_change_means_no_changes_for_both_stacks(clone: Path) -> None:
    report = ok(clone)
    assert section(report, "dev").strip() == "Stack dev: no changes"
    assert section(report, "prod").strip() == "Stack prod: no changes"
    assert "cannot be known offline" in report
    assert worktrees(clone) == [f"worktree {clone}"]


def test_a_usage_plan_rate_is_one_update_in_dev_and_nothing_in_prod(clone: Path) -> None:
    plans = config_of(clone, "dev", "usagePlans")
    assert isinstance(plans, dict)
    old = plans["standard"]["rateLimit"]
    plans["standard"]["rateLimit"] = old + 25
    edit_config(clone, "dev", "usagePlans", plans)

    report = ok(clone)

    dev = section(report, "dev")
    assert dev.startswith("Stack dev: 1 to update\n"), dev
    updates = [line.strip() for line in dev.splitlines() if line.strip().startswith("~")]
    assert updates == ["~ update aws:apigateway/usagePlan:UsagePlan query-plan-standard"]
    changed = [line.strip() for line in dev.splitlines() if ": " in line and "->" in line]
    assert changed == [f"throttleSettings.rateLimit: {old} -> {old + 25}"]
    assert section(report, "prod").strip() == "Stack prod: no changes"


def test_subscribers_added_and_removed_are_creates_and_deletes(clone: Path) -> None:
    subscribers = config_of(clone, "dev", "subscribers")
    assert isinstance(subscribers, list)
    kept = [s for s in subscribers if s["name"] != "crypto"]
    assert len(kept) == len(subscribers) - 1, "the dev stack has a `crypto` subscriber"
    edit_config(clone, "dev", "subscribers", [*kept, {"name": "forex", "symbols": ["EURUSD"]}])

    report = ok(clone, "--stack", "dev", "--format", "markdown")

    symbol = {"create": "+", "delete": "-"}

    def lines(op: str) -> set[str]:
        head = f"- `{symbol[op]}` **{op}**"
        return {line for line in report.splitlines() if line.startswith(head)}

    def expected(op: str, subscriber: str) -> set[str]:
        prefix = f"fanout-sub-{subscriber}"
        return {
            f"- `{symbol[op]}` **{op}** `{typ}` `{name}`"
            for typ, name in (
                ("aws:sqs/queue:Queue", prefix),
                ("aws:sqs/queue:Queue", f"{prefix}-dlq"),
                ("aws:sqs/queuePolicy:QueuePolicy", f"{prefix}-policy"),
                ("aws:sns/topicSubscription:TopicSubscription", f"{prefix}-subscription"),
            )
        }

    assert lines("create") == expected("create", "forex")
    assert lines("delete") == expected("delete", "crypto")
    assert "**fanout** (`marketstream:index:FanoutPath`)" in report
    assert "Stack `prod`" not in report


def test_a_handler_edit_shows_the_functions_whose_code_changed(clone: Path) -> None:
    handler = clone / "handlers" / "query.py"
    handler.write_text(handler.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")

    dev = section(ok(clone, "--stack", "dev"), "dev")

    functions = re.findall(r"~ update aws:lambda/function:Function (\S+)", dev)
    # One package for every function: each one's code changed, and nothing else did.
    assert sorted(functions) == [
        "fanout-broadcast-fn",
        "fanout-consumer-fn",
        "fanout-ws-fn",
        "ingest-authorizer-fn",
        "ingest-ingest-fn",
        "ingest-replay-fn",
        "query-query-fn",
    ]
    code = re.findall(r"code: sha256:([0-9a-f]{12}) -> sha256:([0-9a-f]{12}) \(code changed\)", dev)
    assert len(code) == len(functions)
    assert len(set(code)) == 1 and code[0][0] != code[0][1]
    assert dev.startswith(f"Stack dev: {len(functions)} to update\n"), dev


def test_a_secret_value_never_appears_in_any_output(clone: Path) -> None:
    tokens = clone / "infra" / "tokens.py"
    source = tokens.read_text(encoding="utf-8")
    assert "TOKEN_LENGTH: Final = 48" in source
    tokens.write_text(source.replace("TOKEN_LENGTH: Final = 48", "TOKEN_LENGTH: Final = 40"))
    # The mocked values of the token and the API key; their start does not depend on the length.
    prefixes = {
        MockAws().create("random:index/randomPassword:RandomPassword", name, {"length": 16})[1][
            "result"
        ]
        for name in (
            "ingest-token",
            "ingest-backfill-token",
            "fanout-read-token",
            "query-key-loadgen-value",
        )
    }

    text = preview(clone, "--stack", "dev")
    out = clone.parent / "diff.md"
    markdown = preview(clone, "--stack", "dev", "--format", "markdown", "--output", str(out))

    assert text.returncode == markdown.returncode == 0, text.stderr + markdown.stderr
    assert "secretString: [secret] -> [secret] (secret changed)" in text.stdout
    assert "`[secret]` → `[secret]` (secret changed)" in out.read_text(encoding="utf-8")
    everything = text.stdout + text.stderr + markdown.stdout + markdown.stderr + out.read_text()
    for prefix in prefixes:
        assert prefix not in everything


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--base", "no-such-rev"), "infra.preview: error: --base: unknown revision 'no-such-rev'"),
        (("--stack", "staging"), "infra.preview: error: argument --stack: invalid choice"),
        (("--format", "html"), "infra.preview: error: argument --format: invalid choice"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_64(
    clone: Path, args: tuple[str, ...], message: str
) -> None:
    result = preview(clone, *args)
    assert result.returncode == 64
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(message)
    assert worktrees(clone) == [f"worktree {clone}"]


def test_a_program_failing_on_either_side_names_the_side_and_exits_1(clone: Path) -> None:
    edit_config(clone, "dev", "replayBatchSize", 100_000)
    result = preview(clone, "--stack", "dev")
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("infra.preview: error: working tree: stack dev: the program failed: ")
    assert "marketstream:replayBatchSize" in line
    assert worktrees(clone) == [f"worktree {clone}"]

    # The same breakage committed, and the working tree repaired: now the base fails.
    _git(clone, "commit", "--quiet", "-am", "break dev")
    broken = _git(clone, "rev-parse", "HEAD").strip()
    _git(clone, "checkout", "--quiet", "HEAD~1", "--", "Pulumi.dev.yaml")
    result = preview(clone, "--stack", "dev", "--base", broken)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"infra.preview: error: base {broken[:12]}: stack dev: the program")
    assert worktrees(clone) == [f"worktree {clone}"]


def test_a_base_that_cannot_be_checked_out_leaves_no_worktree(
    clone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with (
        pytest.raises(CheckoutError, match=r"^cannot check out 000000000000: "),
        checkout(clone, "0" * 40),
    ):
        pytest.fail("checked out a commit that does not exist")
    assert worktrees(clone) == [f"worktree {clone}"]
    assert list(tmp_path.iterdir()) == []


def test_the_worktree_is_removed_when_the_run_is_interrupted(
    clone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    head = _git(clone, "rev-parse", "HEAD").strip()
    seen: list[Path] = []

    def interrupted() -> None:
        with checkout(clone, head) as base:
            seen.append(base)
            assert (base / "__main__.py").is_file()
            assert len(worktrees(clone)) == 2
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert seen and not seen[0].exists()
    assert worktrees(clone) == [f"worktree {clone}"]
    assert list(tmp_path.iterdir()) == []
