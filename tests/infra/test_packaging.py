"""Archive determinism: same sources, same staged trees; handler edits never touch the layer."""

from __future__ import annotations

import importlib.util
import marshal
import platform
import shutil
import sys
import time
from pathlib import Path

import pytest

from infra.packaging import (
    BYTECODE_PYTHON_ENV,
    FUNCTION_ROOT,
    LAYER_ROOT,
    PROJECT_ROOT,
    Compiler,
    PackagingError,
    Staged,
    bytecode_compiler,
    compile_bytecode,
    layer_key,
    stage_function,
    stage_layer,
    tree_hash,
)

HANDLERS = PROJECT_ROOT / "handlers"
REQUIREMENTS = HANDLERS / "requirements.txt"


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A copy of `handlers/` with the litter a working tree collects."""
    source = tmp_path / "src" / "handlers"
    shutil.copytree(HANDLERS, source)
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "ingest.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (source / "stray.pyc").write_bytes(b"\x00")
    (source / "tests").mkdir()
    (source / "tests" / "test_x.py").write_text("assert True\n")
    return source


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_function_archive_holds_the_package_only(sources: Path, tmp_path: Path) -> None:
    staged = stage_function(sources, tmp_path / "build" / "function")
    files = _files(staged.path)
    assert "handlers/__init__.py" in files
    assert "handlers/ingest.py" in files
    assert "handlers/authorizer.py" in files
    assert "handlers/core/settings.py" in files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc") or "/tests/" in f]
    assert "handlers/requirements.txt" not in files  # it describes the layer
    assert staged.digest == tree_hash(staged.path)
    assert staged.archive().path.endswith("build/function")


def test_two_builds_give_identical_trees(sources: Path, tmp_path: Path) -> None:
    first = stage_function(sources, tmp_path / "a" / "function")
    time.sleep(0.01)  # different timestamps must not matter
    second = stage_function(sources, tmp_path / "b" / "function")
    assert first.digest == second.digest
    assert _files(first.path) == _files(second.path)
    for name in _files(first.path):
        assert (first.path / name).read_bytes() == (second.path / name).read_bytes()
        assert (first.path / name).stat().st_mode == (second.path / name).stat().st_mode


def test_restaging_an_unchanged_tree_leaves_it_untouched(sources: Path, tmp_path: Path) -> None:
    dest = tmp_path / "function"
    first = stage_function(sources, dest)
    before = (dest / "handlers" / "__init__.py").stat().st_mtime_ns
    second = stage_function(sources, dest)
    assert second.digest == first.digest
    assert (dest / "handlers" / "__init__.py").stat().st_mtime_ns == before
    assert not list(tmp_path.glob("function.*")), "no temporary directories left behind"


def test_one_byte_handler_change_changes_code_not_layer(
    sources: Path, tmp_path: Path, fresh_layer: Staged
) -> None:
    build_dir = fresh_layer.path.parent
    before = stage_function(sources, tmp_path / "function")
    key_before = layer_key(REQUIREMENTS, "arm64", "python3.13")

    handler = sources / "ingest.py"
    handler.write_bytes(handler.read_bytes() + b" ")
    after = stage_function(sources, tmp_path / "function")
    layer_after = stage_layer(
        REQUIREMENTS, "arm64", "python3.13", build_dir=build_dir, mode="offline"
    )

    assert after.digest != before.digest
    assert layer_key(REQUIREMENTS, "arm64", "python3.13") == key_before
    assert layer_after == fresh_layer


def test_layer_is_built_for_lambda_and_clean(fresh_layer: Staged) -> None:
    site = fresh_layer.path / "python"
    assert (site / "pydantic" / "__init__.py").is_file()
    cores = list((site / "pydantic_core").glob("_pydantic_core.*.so"))
    assert len(cores) == 1
    assert "cpython-313-aarch64-linux-gnu" in cores[0].name  # built for Lambda, not this host
    files = _files(fresh_layer.path)
    assert not [f for f in files if f.endswith(".pyc") or "__pycache__" in f]
    assert not [f for f in files if f.rsplit("/", 1)[-1] in {"RECORD", "INSTALLER", "REQUESTED"}]
    assert not [f for f in files if f.startswith("python/boto")], "boto3 comes with the runtime"
    assert fresh_layer.digest == tree_hash(fresh_layer.path)


def test_layer_cache_hit_needs_no_network(fresh_layer: Staged) -> None:
    started = time.perf_counter()
    again = stage_layer(
        REQUIREMENTS, "arm64", "python3.13", build_dir=fresh_layer.path.parent, mode="offline"
    )
    assert again == fresh_layer
    assert time.perf_counter() - started < 1.0


def test_layer_key_depends_on_platform_and_python() -> None:
    keys = {
        layer_key(REQUIREMENTS, arch, runtime)
        for arch in ("arm64", "x86_64")
        for runtime in ("python3.12", "python3.13")
    }
    assert len(keys) == 4


def test_offline_mode_refuses_a_cold_cache(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="not cached"):
        stage_layer(REQUIREMENTS, "arm64", "python3.13", build_dir=tmp_path, mode="offline")


def test_skip_mode_gives_a_placeholder_that_changes_with_the_layer_key(tmp_path: Path) -> None:
    staged = stage_layer(REQUIREMENTS, "arm64", "python3.13", build_dir=tmp_path, mode="skip")
    assert (staged.path / "python").is_dir()
    assert _files(staged.path) == ["layer-key"]
    other = stage_layer(REQUIREMENTS, "x86_64", "python3.13", build_dir=tmp_path, mode="skip")
    assert other.digest != staged.digest


def _this_python() -> Compiler:
    """The running interpreter as the bytecode compiler (the mechanism is version-agnostic)."""
    return Compiler(sys.executable, platform.python_version())


def _pyc_header(data: bytes) -> tuple[bytes, int]:
    return data[:4], int.from_bytes(data[4:8], "little")


def test_function_bytecode_is_ours_deterministic_and_unchecked(
    sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the handlers (with a stale .pyc of this very version among the litter)
    compiler = _this_python()
    # WHEN they are staged with bytecode twice, the second time under another hash seed
    first = stage_function(sources, tmp_path / "a" / "function", bytecode=compiler)
    monkeypatch.setenv("PYTHONHASHSEED", "12345")
    second = stage_function(sources, tmp_path / "b" / "function", bytecode=compiler)
    # THEN both trees are byte-identical
    assert first.digest == second.digest
    files = _files(first.path)
    for name in files:
        assert (first.path / name).read_bytes() == (second.path / name).read_bytes()
    # AND every module has exactly one .pyc, compiled here, for this version, from its source
    modules = [f for f in files if f.endswith(".py")]
    pycs = sorted(f for f in files if f.endswith(".pyc"))
    tag = sys.implementation.cache_tag
    assert pycs == sorted(
        f"{m.rsplit('/', 1)[0]}/__pycache__/{m.rsplit('/', 1)[1][:-3]}.{tag}.pyc" for m in modules
    )
    for module in modules:
        pyc = importlib.util.cache_from_source(str(first.path / module))
        data = Path(pyc).read_bytes()
        # `unchecked-hash`: flags 0b01, so Python loads it without reading the source's mtime
        assert _pyc_header(data) == (importlib.util.MAGIC_NUMBER, 0b01)
        assert data[8:16] == importlib.util.source_hash((first.path / module).read_bytes())
        # AND tracebacks name the file where Lambda puts it, not the build directory
        code = marshal.loads(data[16:])  # noqa: S302 - bytecode this test just compiled
        assert code.co_filename == f"{FUNCTION_ROOT}/{module}"


def test_layer_bytecode_is_deterministic(fresh_layer: Staged, tmp_path: Path) -> None:
    # GIVEN two copies of part of the layer (pydantic's internals and two small packages)
    site = fresh_layer.path / "python"
    parts = ["pydantic/_internal", "annotated_types", "typing_extensions.py"]
    trees = []
    for copy in ("a", "b"):
        root = tmp_path / copy
        for part in parts:
            source = site / part
            if source.is_dir():
                shutil.copytree(source, root / "python" / part)
            else:
                (root / "python").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, root / "python" / part)
        # WHEN each is compiled as the layer is
        compile_bytecode(root, _this_python(), LAYER_ROOT)
        trees.append(root)
    # THEN the bytecode is byte-identical and names the layer's path on Lambda
    assert tree_hash(trees[0]) == tree_hash(trees[1])
    pyc = importlib.util.cache_from_source(str(trees[0] / "python" / "typing_extensions.py"))
    code = marshal.loads(Path(pyc).read_bytes()[16:])  # noqa: S302 - compiled just above
    assert code.co_filename == f"{LAYER_ROOT}/python/typing_extensions.py"


def test_layer_key_depends_on_the_bytecode_compiler() -> None:
    plain = layer_key(REQUIREMENTS, "arm64", "python3.13")
    compiled = layer_key(REQUIREMENTS, "arm64", "python3.13", bytecode=Compiler("p", "3.13.0"))
    other = layer_key(REQUIREMENTS, "arm64", "python3.13", bytecode=Compiler("q", "3.13.1"))
    assert len({plain, compiled, other}) == 3
    assert layer_key(REQUIREMENTS, "arm64", "python3.13", bytecode=Compiler("q", "3.13.0")) == (
        compiled
    )


def test_the_bytecode_compiler_is_the_runtimes_version(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    # GIVEN an interpreter named explicitly WHEN it is the runtime's version THEN it is used
    monkeypatch.setenv(BYTECODE_PYTHON_ENV, sys.executable)
    assert bytecode_compiler(runtime) == _this_python()
    # AND WHEN it is another version THEN staging refuses, naming the variable
    with pytest.raises(PackagingError, match=f"{BYTECODE_PYTHON_ENV}=.*not a Python 3.99"):
        bytecode_compiler("python3.99")
    # AND with nothing named, a version not on PATH means no bytecode, not a wrong one
    monkeypatch.delenv(BYTECODE_PYTHON_ENV)
    assert bytecode_compiler("python3.99") is None
