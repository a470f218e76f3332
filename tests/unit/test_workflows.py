"""GitHub Actions workflows: schema-valid, zizmor-clean, pinned, least-privilege.

Both tools run offline from the venv (dev dependencies). Each check is also run on a
deliberately broken workflow, so a check that silently passes everything fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
FILES = sorted(WORKFLOWS.glob("*.yml"))
PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\b")

GOOD = """\
name: ok
on: push
permissions: {}
jobs:
  build:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - run: echo hello
"""


def tool(name: str) -> Path:
    """Path of a console script in this venv; fail (not skip) if the dev dependency is missing."""
    path = BIN / name
    assert path.exists(), f"{name} not found next to {sys.executable}: install the dev extras"
    return path


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    """Run a tool offline and capture its output."""
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [str(a) for a in argv], capture_output=True, text=True, timeout=120, check=False
    )


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    """Validate one workflow against the vendored GitHub workflow schema."""
    return run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", path)


def zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    """Audit workflows offline; findings of medium severity or higher make the exit code nonzero."""
    return run(tool("zizmor"), "--offline", "--no-config", "--min-severity", "medium", path)


def load(path: Path) -> dict[str, Any]:
    """Parse a workflow; YAML 1.1 reads the `on` key as True, so map it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step of every job."""
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in FILES} >= {"ci.yml", "preview.yml", "deploy.yml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_workflow_matches_the_github_schema(path: Path) -> None:
    result = schema_check(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_have_no_zizmor_findings_of_medium_or_higher() -> None:
    result = zizmor(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(GOOD, encoding="utf-8")
    assert schema_check(good).returncode == 0
    broken = tmp_path / "broken.yml"
    # `runs-on` misspelt and `steps` not a list: both schema errors.
    broken.write_text(
        GOOD.replace("runs-on:", "run-on:").replace("- run: echo hello", "run: echo hello"),
        encoding="utf-8",
    )
    assert schema_check(broken).returncode != 0


def test_zizmor_flags_an_insecure_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        """\
name: bad
on: pull_request_target
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: echo "${{ github.event.pull_request.title }}"
""",
        encoding="utf-8",
    )
    result = zizmor(bad)
    assert result.returncode != 0
    for audit in ("template-injection", "unpinned-uses", "dangerous-triggers"):
        assert audit in result.stdout


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if "uses:" in line]
    assert lines
    for line in lines:
        ref = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        assert PIN.match(ref), f"not pinned to a full commit SHA: {line.strip()}"
        assert VERSION_COMMENT.search(line), f"no `# vX.Y.Z` comment: {line.strip()}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_least_privilege_and_hygiene(path: Path) -> None:
    workflow = load(path)
    # Nothing granted at the top; every job says what it needs.
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name} has no permissions block"
        assert job["permissions"].get("contents") == "read", name
        granted = {k for k, v in job["permissions"].items() if v == "write"}
        assert granted <= {"id-token", "pull-requests"}, f"job {name} writes {granted}"
    assert "concurrency" in workflow or all("concurrency" in j for j in workflow["jobs"].values())
    for step in steps(workflow):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False
        # Expressions in shell scripts are template injection; pass values through env instead.
        assert "${{" not in str(step.get("run", "")), step


def test_preview_runs_per_stack_and_comments_on_the_pr() -> None:
    workflow = load(WORKFLOWS / "preview.yml")
    assert set(workflow["on"]) == {"pull_request"}
    (job,) = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert job["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }
    by_action = {str(s.get("uses", "")).split("@")[0]: s for s in job["steps"]}
    aws = by_action["aws-actions/configure-aws-credentials"]["with"]
    assert aws["role-to-assume"].startswith("${{ vars.")
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws)
    pulumi = by_action["pulumi/actions"]["with"]
    assert pulumi["command"] == "preview"
    assert pulumi["diff"] is True
    assert pulumi["comment-on-pr"] is True


def test_deploy_dev_on_push_prod_by_hand_behind_the_environment() -> None:
    workflow = load(WORKFLOWS / "deploy.yml")
    assert set(workflow["on"]) == {"push", "workflow_dispatch"}
    dev, prod = workflow["jobs"]["dev"], workflow["jobs"]["prod"]
    assert "push" in dev["if"]
    assert "workflow_dispatch" in prod["if"]
    assert prod["environment"] == "prod"
    for job, stack in ((dev, "dev"), (prod, "prod")):
        assert "pull-requests" not in job["permissions"]
        assert job["concurrency"]["cancel-in-progress"] is False  # never stop `pulumi up` midway
        (pulumi,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/")]
        assert pulumi["with"]["command"] == "up"
        assert pulumi["with"]["stack-name"] == stack


def test_infra_diff_runs_for_every_pr_without_secrets_and_comments_on_same_repo_prs() -> None:
    path = WORKFLOWS / "infra-diff.yml"
    text = path.read_text(encoding="utf-8")
    # Forks included: a plain pull_request trigger, nothing that could reach a secret.
    assert "secrets." not in text and "pull_request_target" not in text
    assert "id-token" not in text and "aws-actions/" not in text
    workflow = load(path)
    assert set(workflow["on"]) == {"pull_request"}
    diff, comment = workflow["jobs"]["diff"], workflow["jobs"]["comment"]
    assert diff["permissions"] == {"contents": "read"}
    assert "if" not in diff
    (checkout,) = [
        s for s in diff["steps"] if str(s.get("uses", "")).startswith("actions/checkout")
    ]
    assert checkout["with"]["fetch-depth"] == 0  # the base revision comes from history
    (run,) = [s for s in diff["steps"] if "infra.preview" in str(s.get("run", ""))]
    assert "--format markdown" in run["run"] and "GITHUB_STEP_SUMMARY" in run["run"]
    assert run["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    assert comment["needs"] == "diff"
    assert comment["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert comment["permissions"] == {"contents": "read", "pull-requests": "write"}
    (post,) = comment["steps"]
    assert "<!-- marketstream-infra-diff -->" in post["run"]
    assert "PATCH" in post["run"]  # edited in place, not one comment per push
    assert post["env"]["BODY"] == "${{ needs.diff.outputs.comment }}"
