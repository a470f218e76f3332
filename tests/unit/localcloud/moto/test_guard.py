"""The guard: the pinned moto passes; another shape of anything a patch touches is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.moto_server import werkzeug_app
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.sqs.models import Queue

from localcloud.errors import LocalCloudError
from localcloud.moto import guard, patches
from localcloud.moto import server as server_module
from localcloud.moto.guard import MotoMismatch, Needs, Patch
from localcloud.moto.process import EXIT_REFUSED, PORT_PREFIX, REFUSED_PREFIX
from localcloud.moto.server import MotoServer

ROOT = Path(__file__).resolve().parents[4]
EXPECTED = patches.EXPECTED_MOTO
GONE = "moto.moto_server.werkzeug_app has no MotoRequestHandler"
# What moto 5.2.1 lacks; deleted here before the guard runs.
_DELETE = "import moto.moto_server.werkzeug_app as w\ndel w.MotoRequestHandler\n"


def test_the_pinned_moto_passes() -> None:
    assert guard.installed_version() == EXPECTED
    assert patches.check() is None


def test_every_patch_declares_what_it_touches() -> None:
    names = [p.name for p in patches.PATCHES]
    assert names == [
        "speed_up_dispatch",
        "serialise_dynamodb",
        "fast_get_records",
        "fast_item_answers",
        "cheap_sqs_send",
        "keep_alive",
        "cloudwatch_metrics",
    ]
    assert all(p.needs and p.apply.__doc__ for p in patches.PATCHES)


def _takes(*names: str) -> Callable[..., Any]:
    """A function with these parameters (`*args` and `**kwargs` spelt so)."""
    code = f"def f({', '.join(names)}): pass"
    scope: dict[str, Any] = {}
    exec(code, scope)  # noqa: S102 (a fixed test string)
    function: Callable[..., Any] = scope["f"]
    return function


def _entry_without_handler(self: Any) -> None:
    """A server entry that builds its server without moto's module global."""


# (what to change, the patch that no longer applies, why)
MISMATCHES = [
    pytest.param(
        lambda mp: mp.delattr(werkzeug_app, "MotoRequestHandler"), "keep_alive", GONE, id="gone"
    ),
    pytest.param(
        lambda mp: mp.setattr(Table, "query", _takes("self", "hash_key", "index_name", "*args")),
        "serialise_dynamodb",
        "moto.dynamodb.models.table.Table.query takes (self, hash_key, index_name, *args), "
        "the patch expects (self, hash_key, range_comparison, range_objs, limit, "
        "exclusive_start_key, scan_index_forward, projection_expressions, index_name, ...)",
        id="query-order",
    ),
    pytest.param(
        lambda mp: mp.setattr(
            werkzeug_app.DomainDispatcherApplication,
            "get_application",
            _takes("self", "environ", "start_response"),
        ),
        "speed_up_dispatch",
        "moto.moto_server.werkzeug_app.DomainDispatcherApplication.get_application takes "
        "(self, environ, start_response), the patch expects (self, environ, ...)",
        id="extra-required-parameter",
    ),
    pytest.param(
        lambda mp: mp.setattr(
            DynamoDBStreamsBackend, "get_records", _takes("self", "limit", "iterator_arn")
        ),
        "fast_get_records",
        "moto.dynamodbstreams.models.DynamoDBStreamsBackend.get_records takes "
        "(self, limit, iterator_arn), the patch expects (self, iterator_arn, limit, ...)",
        id="swapped-parameters",
    ),
    pytest.param(
        lambda mp: mp.setattr(Queue, "attributes", _takes("self")),
        "cheap_sqs_send",
        "moto.sqs.models.Queue.attributes is not a property",
        id="not-a-property",
    ),
    pytest.param(
        lambda mp: mp.setattr(DynamoHandler, "call_action", staticmethod(_takes())),
        "serialise_dynamodb",
        "moto.dynamodb.responses.DynamoHandler.call_action is not a plain function",
        id="staticmethod",
    ),
    pytest.param(
        lambda mp: mp.setattr(ThreadedMotoServer, "_server_entry", _entry_without_handler),
        "keep_alive",
        "moto.moto_server.threaded_moto_server.ThreadedMotoServer._server_entry no longer "
        "refers to MotoRequestHandler",
        id="hook-unused",
    ),
    pytest.param(
        lambda mp: mp.setitem(sys.modules, "moto.sqs.models", None),
        "cheap_sqs_send",
        "cannot import moto.sqs.models: ModuleNotFoundError: import of moto.sqs.models halted; "
        "None in sys.modules",
        id="import-error",
    ),
]


@pytest.mark.parametrize("found", ["5.2.1", EXPECTED])
@pytest.mark.parametrize(("change", "patch", "why"), MISMATCHES)
def test_a_mismatch_is_one_line_naming_both_versions_and_the_patch(
    monkeypatch: pytest.MonkeyPatch,
    found: str,
    change: Callable[[pytest.MonkeyPatch], None],
    patch: str,
    why: str,
) -> None:
    monkeypatch.setattr(guard, "installed_version", lambda: found)
    change(monkeypatch)
    with pytest.raises(MotoMismatch) as caught:
        patches.check()
    joint = "and" if found == EXPECTED else "but"
    assert str(caught.value) == (
        f"moto {found} is installed {joint} the local cloud's moto patches are written for "
        f"{EXPECTED}: patch {patch} no longer applies ({why})"
    )


def test_every_patch_that_no_longer_applies_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard, "installed_version", lambda: "9.9.9")
    monkeypatch.delattr(werkzeug_app, "MotoRequestHandler")
    monkeypatch.delattr(werkzeug_app, "DomainDispatcherApplication")
    monkeypatch.setitem(sys.modules, "moto.sqs.models", None)
    with pytest.raises(MotoMismatch) as caught:
        patches.check()
    assert str(caught.value) == (
        f"moto 9.9.9 is installed but the local cloud's moto patches are written for {EXPECTED}: "
        "patch speed_up_dispatch no longer applies (moto.moto_server.werkzeug_app has no "
        "DomainDispatcherApplication); nor do patches cheap_sqs_send, keep_alive"
    )


def test_a_module_that_fails_to_import_is_one_line_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_moto_module.py").write_text("raise RuntimeError('two\\nlines')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(guard, "installed_version", lambda: None)
    broken = Patch("broken", lambda: None, (Needs("broken_moto_module", "X"),))
    with pytest.raises(MotoMismatch) as caught:
        guard.verify([broken], EXPECTED)
    assert str(caught.value) == (
        f"moto is not installed but the local cloud's moto patches are written for {EXPECTED}: "
        "patch broken no longer applies (cannot import broken_moto_module: RuntimeError: two "
        "lines)"
    )


def test_another_version_that_checks_out_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard, "installed_version", lambda: "5.3.0")
    assert patches.check() == (
        "localcloud: warning: moto 5.3.0 is installed but the local cloud's moto patches are "
        f"written for {EXPECTED}; everything they touch still checks out, so they are applied "
        "(tests/unit/localcloud/moto/ tells whether moto still behaves as they assume)"
    )


def test_apply_applies_none_unless_all_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    applied: list[str] = []
    fine = Needs("moto.sqs.models", "Queue", kind="class")
    registry = [
        Patch("first", lambda: applied.append("first"), (fine,)),
        Patch("second", lambda: applied.append("second"), (fine,)),
    ]
    monkeypatch.setattr(patches, "PATCHES", registry)
    assert patches.apply() is None
    assert applied == ["first", "second"]
    applied.clear()
    gone = Needs("moto.sqs.models", "Gone")
    registry.append(Patch("third", lambda: applied.append("third"), (gone,)))
    with pytest.raises(MotoMismatch, match=r"patch third no longer applies \(.* has no Gone\)$"):
        patches.apply()
    assert applied == []


# -- the moto process ----------------------------------------------------------------------------


def test_the_process_refuses_with_one_line_on_stdout_and_nothing_else() -> None:
    script = f"{_DELETE}import sys\nfrom localcloud.moto.process import main\nsys.exit(main())\n"
    # stdin at EOF: a process that wrongly served would stop at once rather than hang.
    result = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", script],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == EXIT_REFUSED
    assert result.stdout == (
        f"{REFUSED_PREFIX}moto {EXPECTED} is installed and the local cloud's moto patches are "
        f"written for {EXPECTED}: patch keep_alive no longer applies ({GONE})\n"
    )
    assert result.stderr == ""


def test_the_process_serves_another_moto_that_checks_out_with_a_warning() -> None:
    script = (
        "import sys\nfrom localcloud.moto import guard\nguard.installed_version = lambda: '5.3.0'\n"
        "from localcloud.moto.process import main\nsys.exit(main())\n"
    )
    # stdin at EOF: the process stops as soon as it served (printed its port).
    result = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", script],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith(PORT_PREFIX) and result.stdout.count("\n") == 1
    assert result.stderr.startswith("localcloud: warning: moto 5.3.0 is installed but ")
    assert result.stderr.count("\n") == 1


@pytest.fixture
def moto_without_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """A MotoServer whose process (`python -m localcloud.moto.process`) lacks the handler."""
    # Python imports `sitecustomize` at start-up, before the process's main module runs.
    (tmp_path / "sitecustomize.py").write_text(_DELETE)
    paths = [str(tmp_path), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    server = MotoServer()
    try:
        yield server
    finally:
        server.stop()


def test_the_server_reports_the_refusal_as_its_error(moto_without_handler: MotoServer) -> None:
    moto_without_handler.start()
    with pytest.raises(LocalCloudError) as caught:
        moto_without_handler.wait_ready()
    assert str(caught.value) == (
        f"moto {EXPECTED} is installed and the local cloud's moto patches are written for "
        f"{EXPECTED}: patch keep_alive no longer applies ({GONE})"
    )


def test_with_another_moto_start_itself_raises_and_stops_the_process(
    moto_without_handler: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "installed_version", lambda: "5.2.1")
    with pytest.raises(LocalCloudError, match=rf"patch keep_alive no longer applies \({GONE}\)$"):
        moto_without_handler.start()
    assert not psutil.pid_exists(moto_without_handler.pid)


def test_with_another_moto_that_checks_out_start_waits_until_it_listens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server_module, "installed_version", lambda: "5.2.1")
    server = MotoServer()
    try:
        server.start()
        assert server.endpoint.startswith("http://127.0.0.1:")  # no wait_ready needed
    finally:
        server.stop()


def test_apply_refuses_an_unknown_patch_name_before_patching() -> None:
    with pytest.raises(ValueError, match="no such moto patch: nope"):
        patches.apply(without=("nope",))
