"""`infra.preview.diff` and `render` on hand-made snapshots: paths, secrets, code, replacements."""

from __future__ import annotations

import json
from typing import Any

from infra.preview.diff import ABSENT, diff_stack
from infra.preview.render import render
from infra.preview.snapshot import ARCHIVE, SECRET

STACK_URN = "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"
PATH_URN = "urn:pulumi:dev::p::p:index:Path::path"


def resource(typ: str, name: str, inputs: dict[str, Any], parent: str = PATH_URN) -> dict[str, Any]:
    """A snapshot entry as `infra.preview.snapshot` writes it."""
    return {
        "urn": f"urn:pulumi:dev::p::p:index:Path${typ}::{name}",
        "type": typ,
        "name": name,
        "parent": parent,
        "custom": True,
        "inputs": inputs,
    }


COMPONENT = {
    "urn": PATH_URN,
    "type": "p:index:Path",
    "name": "path",
    "parent": STACK_URN,
    "custom": False,
    "inputs": {},
}


def test_nested_values_and_json_strings_are_compared_as_paths() -> None:
    policy = {"Statement": [{"Action": ["sqs:SendMessage"], "Resource": "arn:a"}]}
    old = [
        COMPONENT,
        resource("aws:sqs/queuePolicy:QueuePolicy", "qp", {"policy": json.dumps(policy)}),
    ]
    policy["Statement"][0]["Resource"] = "arn:b"
    new = [
        COMPONENT,
        resource("aws:sqs/queuePolicy:QueuePolicy", "qp", {"policy": json.dumps(policy)}),
    ]

    (component,) = diff_stack("dev", old, new).components
    assert (component.name, component.typ) == ("path", "p:index:Path")
    ((prop,),) = [c.properties for c in component.changes]
    assert (prop.path, prop.old, prop.new, prop.kind) == (
        "policy.Statement[0].Resource",
        "arn:a",
        "arn:b",
        "value",
    )


def test_an_unchanged_secret_is_no_change_and_a_changed_one_shows_no_value() -> None:
    same = {"secretString": {SECRET: "d1"}}
    assert (
        diff_stack("dev", [resource("t:x:Y", "s", same)], [resource("t:x:Y", "s", same)]).components
        == ()
    )

    diff = diff_stack(
        "dev",
        [resource("t:x:Y", "s", same)],
        [resource("t:x:Y", "s", {"secretString": {SECRET: "d2"}})],
    )
    (change,) = diff.changes()
    (prop,) = change.properties
    assert prop.kind == "secret"
    for fmt in ("text", "markdown"):
        report = render([diff], base="abc", fmt=fmt)
        assert "secret changed" in report and "d1" not in report and "d2" not in report


def test_code_shows_its_hashes_and_known_replacements_are_marked() -> None:
    old = resource("aws:sqs/queue:Queue", "q", {"name": "a", "delaySeconds": 0})
    new = resource("aws:sqs/queue:Queue", "q", {"name": "b", "delaySeconds": 5})
    fn_old = resource("aws:lambda/function:Function", "f", {"code": {ARCHIVE: "1" * 64}})
    fn_new = resource("aws:lambda/function:Function", "f", {"code": {ARCHIVE: "2" * 64}})
    diff = diff_stack("dev", [COMPONENT, old, fn_old], [COMPONENT, new, fn_new])
    text = render([diff], base="abc", fmt="text")
    assert "code: sha256:111111111111 -> sha256:222222222222 (code changed)" in text
    assert 'name: "a" -> "b" [forces replacement]' in text
    assert "delaySeconds: 0 -> 5\n" in text  # not known offline: not marked


def test_creates_deletes_and_absent_properties() -> None:
    a = resource("aws:sqs/queue:Queue", "a", {})
    b = resource("aws:sqs/queue:Queue", "b", {"tags": {"x": "1"}})
    b2 = resource("aws:sqs/queue:Queue", "b", {})
    c = resource("aws:sqs/queue:Queue", "c", {}, parent=STACK_URN)
    diff = diff_stack("dev", [COMPONENT, a, b], [COMPONENT, b2, c])
    assert [(ch.op, ch.name) for ch in diff.changes()] == [
        ("create", "c"),
        ("update", "b"),
        ("delete", "a"),
    ]
    (prop,) = diff.changes()[1].properties
    assert (prop.path, prop.old, prop.new) == ("tags", {"x": "1"}, ABSENT)
    assert 'tags: {"x": "1"} -> (none)' in render([diff], base="abc", fmt="text")
    assert diff.count("create") == diff.count("delete") == diff.count("update") == 1
