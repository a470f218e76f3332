"""GIVEN two functions of one handler package WHEN a handler imports a module of its package
lazily (at invocation time) THEN it gets its own function's copy, as in its own Lambda."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localcloud.runtime.functions import FunctionSpec, LambdaFunction

FILES = {
    "lazypkg/__init__.py": "",
    "lazypkg/state.py": "class Marker:\n    pass\n\nMARKER = Marker()\n",
    "lazypkg/late.py": "from lazypkg.state import MARKER, Marker\n",
    "lazypkg/handler.py": (
        "from lazypkg import state\n"
        "\n"
        "def handler(event, context):\n"
        "    from lazypkg.late import MARKER, Marker  # lazy, as a rare path would\n"
        "    return {\n"
        "        'same_instance': MARKER is state.MARKER,\n"
        "        'same_class': Marker is state.Marker,\n"
        "        'marker': id(MARKER),\n"
        "    }\n"
    ),
}


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


def _function(code_dir: Path, name: str, executor: ThreadPoolExecutor) -> LambdaFunction:
    spec = FunctionSpec(
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        handler="lazypkg.handler.handler",
        code_dir=code_dir,
    )
    function = LambdaFunction(spec, {}, executor)
    function.load()
    return function


async def test_a_lazy_import_resolves_within_the_functions_own_package(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    for relative, text in FILES.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    # GIVEN two functions loaded from the same package
    first = _function(tmp_path, "first", executor)
    second = _function(tmp_path, "second", executor)
    # WHEN each is invoked twice (the lazy import runs on every call)
    answers = [await fn.invoke({}) for fn in (first, second, first, second)]
    # THEN each lazy import joined its own function's package: same module state and classes
    assert all(a["same_instance"] and a["same_class"] for a in answers)
    # AND the two functions do not share it, while each keeps its own across calls
    assert answers[0]["marker"] == answers[2]["marker"]
    assert answers[1]["marker"] == answers[3]["marker"]
    assert answers[0]["marker"] != answers[1]["marker"]
    # AND nothing of the package leaked into the process's own modules
    assert not [name for name in sys.modules if name.split(".")[0] == "lazypkg"]
