"""The committed lock: pyproject's pins hold in it, and the layer's requirements follow it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from infra import layerlock

ROOT = Path(__file__).resolve().parents[2]


def _locked() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {package["name"]: package["version"] for package in lock["package"]}


def test_layer_requirements_are_the_locked_versions() -> None:
    assert layerlock.REQUIREMENTS.read_text() == layerlock.pinned_requirements()
    locked = _locked()
    pins = [
        line.split("==")
        for line in layerlock.REQUIREMENTS.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert ["pydantic", locked["pydantic"]] in pins
    assert all(locked[name] == version for name, version in pins)


def test_moto_is_locked_at_the_version_the_patches_are_written_for() -> None:
    from localcloud.moto.patches import EXPECTED_MOTO

    assert _locked()["moto"] == EXPECTED_MOTO


def test_a_package_missing_from_the_lock_is_named(tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text(
        'version = 1\n[[package]]\nname = "pydantic"\nversion = "2.0"\n'
        'dependencies = [{ name = "gone" }]\n'
    )
    with pytest.raises(KeyError, match=r"gone is not in uv\.lock"):
        layerlock.pinned_requirements(lock)


def test_the_venv_runs_what_the_lock_says() -> None:
    from importlib.metadata import version

    locked = _locked()
    for name in ("moto", "boto3", "pydantic", "pulumi", "aiohttp"):
        assert version(name) == locked[name], name
