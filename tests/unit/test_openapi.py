"""`docs/openapi.json`: up to date with the code, a valid OpenAPI 3.1 document, examples that the
real `Tick` accepts, and reply schemas that match what the handlers really answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import jsonschema_rs
import pytest
import schemathesis
from pydantic import BaseModel
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.definitions import OPENAPI_31

from apispec import build_document, render, with_servers
from apispec import models as replies
from apispec.cli import DEFAULT_OUTPUT, EXIT_STALE, EXIT_USAGE, REGENERATE, main
from handlers.core.blocks import build_blocks
from handlers.core.errors import ErrorDetail, RequestError, StoreUnavailable
from handlers.core.ingest import IngestService
from handlers.core.models import Tick
from handlers.core.query import QueryService
from handlers.core.settings import Settings
from handlers.core.store import WriteReport
from handlers.core.ticks import load_json
from infra.ingest import INGEST_ROUTE
from infra.query import QUERY_ROUTES
from localcloud.gateway.httpapi import HttpApi, HttpRoute
from localcloud.gateway.openapi import local_servers
from localcloud.gateway.restapi import RestApi, RestMethod
from localcloud.gateway.routing import PathTemplate
from tests.unit.core.events import http_v2, rest_v1
from tests.unit.core.memory import MemorySource

NOW = 1_764_000_000_000


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def _schema_objects(document: dict[str, Any]) -> list[Any]:
    """Every Schema Object: components, parameters, request and response bodies."""
    found: list[Any] = list(document["components"]["schemas"].values())
    found += [p["schema"] for p in document["components"]["parameters"].values()]
    for item in document["paths"].values():
        for key, operation in item.items():
            if key == "servers":
                continue
            found += [p["schema"] for p in operation.get("parameters", []) if "schema" in p]
            bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
            found += [c["schema"] for b in bodies for c in b.get("content", {}).values()]
    return found


def _validator(document: dict[str, Any], ref: str) -> jsonschema_rs.Validator:
    """A validator for `ref`, resolving `#/components/...` against the document."""
    return jsonschema_rs.Draft202012Validator({"$ref": ref, "components": document["components"]})


def test_docs_openapi_json_is_what_the_generator_writes(document: dict[str, Any]) -> None:
    # GIVEN the committed file WHEN the generator runs on the current code THEN they are equal
    committed = DEFAULT_OUTPUT.read_text(encoding="utf-8")
    assert committed == render(document), (
        f"docs/openapi.json is stale: run `{REGENERATE}` and commit the result"
    )


def test_rendering_is_deterministic_json_with_a_trailing_newline(document: dict[str, Any]) -> None:
    text = render(document)
    assert text == render(build_document())
    assert text.endswith("}\n")
    assert json.loads(text) == document


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    # THEN the OpenAPI 3.1 schema (as schemathesis ships it) accepts the document
    errors = [
        e.message for e in jsonschema_rs.Draft202012Validator(OPENAPI_31).iter_errors(document)
    ]
    assert document["openapi"].startswith("3.1.")
    assert errors == []
    # AND every Schema Object is valid JSON Schema 2020-12 (OpenAPI 3.1's dialect)
    for schema in _schema_objects(document):
        jsonschema_rs.meta.validate(schema)


def test_schemathesis_loads_every_operation(document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(document)
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), results
    labels = {r.ok().label for r in results if isinstance(r, Ok)}
    method, _, path = INGEST_ROUTE.partition(" ")
    assert labels == {f"{method} {path}"} | {f"GET /{route}" for route in QUERY_ROUTES}


def test_each_api_has_its_own_servers_and_security(document: dict[str, Any]) -> None:
    ingest_path = INGEST_ROUTE.partition(" ")[2]
    ingest = document["paths"][ingest_path]
    assert "servers" not in document
    assert ingest["servers"][0]["url"].startswith("https://{apiId}.execute-api.")
    assert ingest["post"]["security"] == [{"ingestToken": []}]
    for route in QUERY_ROUTES:
        item = document["paths"][f"/{route}"]
        assert item["servers"][0]["url"].endswith("/{stage}")
        assert item["get"]["security"] == [{"queryApiKey": []}]
    schemes = document["components"]["securitySchemes"]
    assert schemes["ingestToken"] == schemes["ingestToken"] | {"type": "http", "scheme": "bearer"}
    assert schemes["queryApiKey"] | {"in": "header", "name": "x-api-key"} == schemes["queryApiKey"]


def test_with_servers_replaces_only_the_given_paths(document: dict[str, Any]) -> None:
    local = with_servers(document, {"/ingest": "http://127.0.0.1:1/abc"})
    assert local["paths"]["/ingest"]["servers"] == [{"url": "http://127.0.0.1:1/abc"}]
    assert local["paths"]["/query"]["servers"] == document["paths"]["/query"]["servers"]
    assert document["paths"]["/ingest"]["servers"][0]["url"].startswith("https://")


def test_local_servers_point_each_path_at_the_local_api_serving_it(
    document: dict[str, Any],
) -> None:
    # GIVEN an HTTP API serving POST /ingest and a REST API serving GET /query on stage v1
    nothing = cast(Any, None)  # no function is invoked: only routes are matched
    http = HttpApi(
        api_id="h1",
        region="us-east-1",
        routes=[
            HttpRoute(
                "POST /ingest", "POST", PathTemplate.parse("/ingest"), nothing, "2.0", 1, None
            )
        ],
        stages={"$default": None},
    )
    rest = RestApi(
        api_id="r1",
        methods=[RestMethod("q", PathTemplate.parse("/query"), "GET", True, nothing)],
        stages={"v1": {}},
        keys={},
    )
    # WHEN the document's servers are localised THEN each served path gets its API's base URL
    bases = local_servers(document, {"h1": http}, {"r1": rest}, "http://127.0.0.1:9")
    # AND paths no local API serves (here /latest and /bars) are left out: they keep theirs
    assert bases == {"/ingest": "http://127.0.0.1:9/h1", "/query": "http://127.0.0.1:9/r1/v1"}


def test_the_example_ticks_are_ticks_the_model_accepts(document: dict[str, Any]) -> None:
    # GIVEN every example of the request body and of the Tick schema
    media = document["paths"]["/ingest"]["post"]["requestBody"]["content"]["application/json"]
    examples = [e["value"] for e in media["examples"].values()]
    examples += document["components"]["schemas"]["Tick"]["examples"]
    body = _validator(document, "#/components/schemas/TickBatch")
    tick = _validator(document, "#/components/schemas/Tick")
    for example in examples:
        ticks = example.get("ticks", [example])
        # THEN the handlers' Tick validates each tick, and the document's own schema agrees
        assert [Tick.model_validate(t).price for t in ticks] == [t["price"] for t in ticks]
        assert (body if "ticks" in example else tick).is_valid(example)


@pytest.mark.parametrize(
    ("value", "valid"),
    [("189.25", True), ("1.5e2", True), (189.25, True), ("-1", False), ("1,5", False), (0, False)],
)
def test_the_price_schema_takes_the_forms_the_model_takes(
    document: dict[str, Any], value: object, valid: bool
) -> None:
    tick = {"symbol": "AAPL", "price": value, "timestamp": NOW}
    assert _validator(document, "#/components/schemas/Tick").is_valid(tick) is valid
    try:
        # Through JSON text, as the handler parses it (numbers keep their text).
        Tick.model_validate(load_json(json.dumps(tick)))
        accepted = True
    except ValueError:
        accepted = False
    assert accepted is valid


# ---- the reply models against the handlers' real replies ----


class _Writer:
    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse

    def write(self, blocks: list[Any]) -> WriteReport:
        if self.refuse:
            raise StoreUnavailable(blocks, "refused")
        return WriteReport(calls=1, retries=0)


class _Spill:
    def send(self, blocks: list[Any]) -> int:
        return len(blocks)


def _ingest(body: Any, *, refuse: bool = False) -> tuple[int, Any]:
    service = IngestService(
        Settings(), lambda: _Writer(refuse), lambda: _Spill(), clock_ms=lambda: NOW
    )
    reply = service.handle(http_v2(body))
    return reply["statusCode"], json.loads(reply["body"])


def _query(service: QueryService, resource: str, **params: str) -> tuple[int, Any]:
    reply = service.handle(rest_v1(resource, params))
    return reply["statusCode"], json.loads(reply["body"])


def _conforms(model: type[BaseModel], body: Any) -> None:
    # Strict: a key the model lacks or a wrong type fails, as the fuzzer's check would.
    model.model_validate(body, strict=True)


def test_ingest_replies_match_their_models() -> None:
    tick = {"symbol": "AAPL", "price": "1.5", "timestamp": NOW - 1000, "size": "2"}
    status, stored = _ingest({"ticks": [tick, tick | {"price": "1.6"}]})
    assert status == 200
    _conforms(replies.IngestStored, stored)
    status, queued = _ingest(tick, refuse=True)
    assert status == 202
    _conforms(replies.IngestQueued, queued)
    status, refused = _ingest({"ticks": [tick | {"price": "-1"}]})
    assert status == 400
    _conforms(replies.Error, refused)
    assert refused["details"][0]["index"] == 0


def test_request_errors_match_the_error_model() -> None:
    error = RequestError(400, "invalid_body", "bad", [ErrorDetail("body", "empty")])
    _conforms(replies.Error, error.as_json())


def test_query_replies_match_their_models() -> None:
    # GIVEN a store with ticks of one symbol, one with size and id, one without
    source = MemorySource()
    ticks = [
        Tick(symbol="AAPL", price="1.50", timestamp=NOW - 120_000, size="3", id="a"),
        Tick(symbol="AAPL", price="1.7", timestamp=NOW - 60_000),
    ]
    source.put(build_blocks(ticks))
    service = QueryService(lambda: source, clock_ms=lambda: NOW)
    # WHEN each route answers THEN the body matches the reply model the document names
    cases: list[tuple[str, type[BaseModel], dict[str, str]]] = [
        ("/query", replies.QueryPage, {"symbol": "AAPL", "limit": "1"}),
        ("/query", replies.QueryPage, {"symbol": "NONE"}),
        ("/latest", replies.Latest, {"symbol": "AAPL"}),
        ("/latest", replies.Latest, {"symbol": "NONE"}),
        ("/bars", replies.Bars, {"symbol": "AAPL", "interval": "1m"}),
        ("/query", replies.Error, {"symbol": "AAPL", "order": "sideways"}),
    ]
    for resource, model, params in cases:
        status, body = _query(service, resource, **params)
        assert status == (400 if model is replies.Error else 200), body
        _conforms(model, body)


def test_the_reply_models_are_the_document_schemas(document: dict[str, Any]) -> None:
    # GIVEN one real reply per model THEN the document's JSON schema accepts it too
    samples: dict[str, dict[str, Any]] = {
        "IngestStored": {"accepted": 3},
        "QueryPage": {
            "symbol": "A",
            "ticks": [{"symbol": "A", "price": "1", "timestamp": 1}],
            "next_cursor": None,
        },
        "Latest": {"symbol": "A", "tick": None},
        "Error": {
            "error": "e",
            "message": "m",
            "details": [{"index": None, "field": "f", "reason": "r"}],
        },
    }
    for name, body in samples.items():
        assert _validator(document, f"#/components/schemas/{name}").is_valid(body), name
        extra = body | {"unexpected": 1}
        assert not _validator(document, f"#/components/schemas/{name}").is_valid(extra), name


# ---- the command line ----


def test_check_fails_on_a_stale_file_naming_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert main(["--check", "--output", str(stale)]) == EXIT_STALE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and REGENERATE in err


def test_write_then_check_passes(tmp_path: Path) -> None:
    target = tmp_path / "docs" / "openapi.json"
    assert main(["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render(build_document())
    assert main(["--check", "--output", str(target)]) == 0


def test_bad_arguments_exit_64_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--nope"])
    assert exit_info.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--nope" in err
