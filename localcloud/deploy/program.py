"""Run the Pulumi program under the mock runtime and record what it declares and exports.

The mocks do not invent outputs themselves: a `Provider` (`localcloud.deploy.provision`)
creates each resource locally and answers with the outputs AWS would (ARNs, ids, URLs that point at
the local gateway), so the program's own URL logic turns into local URLs. The run happens in its
own thread with its own event loop, because Pulumi outputs are bound to the loop that made them.
"""

from __future__ import annotations

import asyncio
import os
import runpy
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, cast

import pulumi

from localcloud.deploy.stackconfig import StackConfig
from localcloud.errors import ProgramError

__all__ = ["Deployment", "Provider", "Resource", "plain", "run_program"]

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
    outputs: dict[str, Any]
    """Everything the provider answered (inputs echoed plus computed values), secrets unwrapped."""


@dataclass
class Deployment:
    """What one run of the program declared and exported."""

    stack: str
    resources: list[Resource] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)

    def of_type(self, typ: str) -> Iterator[Resource]:
        """Every declared resource of type `typ`, in declaration order."""
        return (r for r in self.resources if r.typ == typ)

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


def plain(value: Any) -> Any:
    """`value` with every Pulumi secret wrapper removed (and archives as their path)."""
    if isinstance(value, dict):
        if value.get(_SIG) == _SECRET_SIG:
            return plain(value["value"])
        return {key: plain(item) for key, item in value.items() if key != _SIG}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return {"path": value.path}
    return value


class _Mocks(pulumi.runtime.Mocks):
    """Mocks that delegate to the provider and record each resource."""

    def __init__(self, provider: Provider, deployment: Deployment) -> None:
        self._provider = provider
        self._deployment = deployment
        self._lock = threading.Lock()  # the engine registers resources from several threads

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        inputs = plain(args.inputs)
        if args.custom:
            rid, computed = self._provider.create(args.typ, args.name, inputs)
        else:
            rid, computed = f"{args.name}-component", {}
        with self._lock:
            self._deployment.resources.append(
                Resource(
                    args.typ, args.name, rid, bool(args.custom), inputs, {**inputs, **computed}
                )
            )
        # Pulumi gets the inputs back as they came (secrets stay secret) plus what was computed.
        return rid, {**args.inputs, **computed}

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return self._provider.call(args.token, plain(args.args)), None


def run_program(
    program: Path, config: StackConfig, provider: Provider, *, project: str
) -> Deployment:
    """Run `program` (a Pulumi `__main__.py`) for `config` in a thread of its own; what it did."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["deployment"] = _run(program, config, provider, project)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    # A new thread starts with an empty context: a fresh Pulumi root stack on every run.
    thread = threading.Thread(target=target, name="pulumi-program", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        error = result["error"]
        if isinstance(error, pulumi.RunError | ProgramError):
            raise ProgramError(str(error)) from None
        raise ProgramError(f"the program failed: {type(error).__name__}: {error}") from error
    deployment: Deployment = result["deployment"]
    return deployment


def _run(program: Path, config: StackConfig, provider: Provider, project: str) -> Deployment:
    deployment = Deployment(config.stack)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    root = str(program.parent)
    if root not in sys.path:
        sys.path.insert(0, root)  # the program imports its components (`infra`) from there
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in ("PULUMI_CONFIG", _LAYER_MODE_ENV)}
        os.environ["PULUMI_CONFIG"] = config.pulumi_config_env()
        # The layer (Lambda-platform wheels) is never imported locally; handlers run on this
        # interpreter's packages. An explicit setting is respected.
        os.environ.setdefault(_LAYER_MODE_ENV, "skip")
        try:
            pulumi.runtime.set_mocks(
                _Mocks(provider, deployment), project=project, stack=config.stack, preview=False
            )

            @pulumi.runtime.test  # type: ignore[untyped-decorator]
            def go() -> pulumi.Output[None]:
                runpy.run_path(str(program), run_name="__main__")
                stack = pulumi.runtime.get_root_resource()
                outputs: dict[str, Any] = dict(getattr(stack, "outputs", {}))
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
