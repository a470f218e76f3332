"""Run the Pulumi program under Pulumi's mock runtime and record what it declares and exports.

The one runner for everything that needs the program's resource graph without a cloud: the infra
tests and `docs/infra.md` (`tests/infra/`), the local cloud (`localcloud.deploy`) and the offline
preview (`infra.preview`). A `Provider` answers each custom resource with the outputs AWS would
compute: `infra.mockaws.MockAws` from names alone (deterministic), the local cloud from moto.
Each run happens in a thread of its own with its own event loop, because Pulumi Outputs are bound
to the loop that made them (docs/architecture.md, Pitfalls).
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, cast

import pulumi
from pulumi.runtime.mocks import MockMonitor

__all__ = [
    "Deployment",
    "Provider",
    "Resource",
    "is_secret",
    "plain",
    "pulumi_config_env",
    "run_program",
]

# How the mock monitor hands over a secret: {SIG: SECRET_SIG, "value": <plain value>}.
_SIG: Final = "4dabf18193072939515e22adb298388d"
_SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a protocol marker
_LAYER_MODE_ENV: Final = "MARKETSTREAM_LAYER_BUILD"
_ENV_LOCK = threading.Lock()


@dataclass
class Resource:
    """One declared resource: type token, logical name, id, plain inputs and outputs."""

    typ: str
    name: str
    id: str
    custom: bool
    inputs: dict[str, Any]
    """The inputs as the provider receives them (camelCase), secrets unwrapped."""
    outputs: dict[str, Any]
    """Everything the provider answered (inputs echoed plus computed values), secrets unwrapped."""
    computed: dict[str, Any] = field(default_factory=dict)
    """What the provider computed (ARNs, URLs, ids the resource owns), without echoed inputs."""
    raw_inputs: dict[str, Any] = field(default_factory=dict)
    """The inputs as the engine passed them: secrets still wrapped, assets and archives as
    objects (`is_secret` tells a wrapped value)."""
    urn: str = ""
    parent: str = ""
    """URN of the parent resource (the stack's for top-level resources)."""

    @property
    def secret_inputs(self) -> set[str]:
        """Top-level input names whose value is a Pulumi secret."""
        return {key for key, value in self.raw_inputs.items() if is_secret(value)}


@dataclass
class Deployment:
    """What one run of the program declared and exported."""

    stack: str
    resources: list[Resource] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)

    def of_type(self, typ: str) -> list[Resource]:
        """Every declared resource of type `typ`, in declaration order."""
        return [r for r in self.resources if r.typ == typ]

    def get(self, typ: str, rid: str) -> Resource | None:
        """The resource of type `typ` with id `rid`, if declared."""
        return next((r for r in self.of_type(typ) if r.id == rid), None)


class Provider(Protocol):
    """Creates resources for the mocks: `(id, outputs)` per resource, results per call."""

    def create(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Create one resource from plain inputs; its id and computed outputs (camelCase)."""
        ...

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        """Answer a provider function (`aws:index/getRegion:getRegion`, ...)."""
        ...


def is_secret(value: Any) -> bool:
    """Whether `value` is a secret as the mock monitor passes it (a wrapper around the value)."""
    return isinstance(value, dict) and value.get(_SIG) == _SECRET_SIG


def plain(value: Any) -> Any:
    """`value` with every Pulumi secret wrapper removed (and archives as their path)."""
    if isinstance(value, dict):
        if is_secret(value):
            return plain(value["value"])
        return {key: plain(item) for key, item in value.items() if key != _SIG}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return {"path": value.path}
    return value


def pulumi_config_env(values: Mapping[str, Any]) -> str:
    """`PULUMI_CONFIG` as the engine passes it: every value a string, objects as JSON."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return json.dumps(value)
        return str(value)

    return json.dumps({key: text(value) for key, value in values.items()})


class _Monitor(MockMonitor):
    """The mock monitor, telling the mocks each resource's URN and parent (it alone knows them)."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.current = threading.local()

    def RegisterResource(self, request: Any) -> Any:
        """Remember the URN and parent for `new_resource`, which runs in this same thread."""
        self.current.urn = self.make_urn(request.parent, request.type, request.name)
        self.current.parent = request.parent
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


class _Mocks(pulumi.runtime.Mocks):
    """Mocks that delegate to the provider and record each resource."""

    def __init__(self, provider: Provider, deployment: Deployment) -> None:
        self._provider = provider
        self._deployment = deployment
        self._lock = threading.Lock()  # the engine registers resources from several threads
        self.monitor = _Monitor(self)

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        inputs = plain(args.inputs)
        if args.custom:
            rid, computed = self._provider.create(args.typ, args.name, inputs)
        else:
            rid, computed = f"{args.name}-component", {}
        current = self.monitor.current
        resource = Resource(
            args.typ,
            args.name,
            rid,
            bool(args.custom),
            inputs,
            {**inputs, **computed},
            computed=computed,
            raw_inputs=dict(args.inputs),
            urn=getattr(current, "urn", ""),
            parent=getattr(current, "parent", ""),
        )
        with self._lock:
            self._deployment.resources.append(resource)
        # Pulumi gets the inputs back as they came (secrets stay secret) plus what was computed.
        return rid, {**args.inputs, **computed}

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return self._provider.call(args.token, plain(args.args)), None


def run_program(
    program: Path,
    stack: str,
    config: Mapping[str, Any],
    provider: Provider,
    *,
    project: str,
) -> Deployment:
    """Run `program` (a Pulumi `__main__.py`) for `stack` with `config` (namespaced keys).

    The run happens in a thread of its own; an exception the program raises is raised here.
    """
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["deployment"] = _run(program, stack, config, provider, project)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    # A new thread starts with an empty context: a fresh Pulumi root stack on every run.
    thread = threading.Thread(target=target, name="pulumi-program", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    deployment: Deployment = result["deployment"]
    return deployment


def _run(
    program: Path,
    stack: str,
    config: Mapping[str, Any],
    provider: Provider,
    project: str,
) -> Deployment:
    deployment = Deployment(stack)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    root = str(program.parent)
    if root not in sys.path:
        sys.path.insert(0, root)  # the program imports its components (`infra`) from there
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in ("PULUMI_CONFIG", _LAYER_MODE_ENV)}
        os.environ["PULUMI_CONFIG"] = pulumi_config_env(config)
        # The layer (Lambda-platform wheels) is never needed under mocks. An explicit setting is
        # respected.
        os.environ.setdefault(_LAYER_MODE_ENV, "skip")
        try:
            mocks = _Mocks(provider, deployment)
            pulumi.runtime.set_mocks(
                mocks, project=project, stack=stack, preview=False, monitor=mocks.monitor
            )

            @pulumi.runtime.test  # type: ignore[untyped-decorator]
            def go() -> pulumi.Output[None]:
                runpy.run_path(str(program), run_name="__main__")
                root_stack = pulumi.runtime.get_root_resource()
                outputs: dict[str, Any] = dict(getattr(root_stack, "outputs", {}))
                values = {k: pulumi.Output.from_input(v) for k, v in outputs.items()}
                # `is_secret()` is a coroutine, which from_input awaits (its stubs say otherwise).
                secret: dict[str, pulumi.Output[Any]] = {
                    k: pulumi.Output.from_input(cast(Any, v.is_secret())) for k, v in values.items()
                }

                def record(resolved: dict[str, Any]) -> None:
                    deployment.exports.update(plain(resolved["values"]))
                    deployment.secret_exports.update(k for k, s in resolved["secret"].items() if s)

                return pulumi.Output.all(
                    values=pulumi.Output.all(**values), secret=pulumi.Output.all(**secret)
                ).apply(record)

            go()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            loop.close()
    return deployment
