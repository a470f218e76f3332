"""Client CPU per DynamoDB call with botocore's defaults and with the handlers' lean settings.

`python -m bench.botocore_settings [--calls 600] [--rounds 3]` starts the patched moto process
and times, in this thread's CPU (moto's own CPU is another process), one-item BatchWriteItem
calls through a client built with each variant of `handlers.core.aws`'s settings, round-robin so
that drift hits every variant alike. Figures are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Final

import boto3
from botocore.config import Config

from bench.moto_query import create_tick_table
from cliargs import UsageParser
from handlers.core.aws import CLIENT_CONFIG
from localcloud.moto.server import MotoServer

__all__ = ["main"]

VARIANTS: Final[dict[str, Config]] = {
    # The handlers' retries and timeouts throughout; only the lean settings differ.
    "botocore defaults": CLIENT_CONFIG.merge(Config(parameter_validation=True)),
    "parameter_validation=False (handlers.core.aws)": CLIENT_CONFIG,
    # Tried and left out: no saving measured.
    "account_id_endpoint_mode=disabled": CLIENT_CONFIG.merge(
        Config(parameter_validation=True, account_id_endpoint_mode="disabled")
    ),
}


def _item(n: int) -> dict[str, Any]:
    return {"symbol": {"S": "AAA"}, "sk": {"S": f"{n:020d}"}, "b": {"B": b"x" * 40}}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print client CPU per call for each variant."""
    parser = UsageParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(key, value)
    server = MotoServer()
    server.start()
    try:
        endpoint = server.wait_ready()
        create_tick_table(
            boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1"), "t"
        )
        clients = {
            name: boto3.client(
                "dynamodb",
                endpoint_url=endpoint,
                region_name="us-east-1",
                config=config,
            )
            for name, config in VARIANTS.items()
        }
        per_call: dict[str, list[float]] = {name: [] for name in VARIANTS}
        written = 0
        for _ in range(args.rounds):
            for name, client in clients.items():
                began = time.thread_time()
                for _ in range(args.calls):
                    written += 1
                    client.batch_write_item(
                        RequestItems={"t": [{"PutRequest": {"Item": _item(written)}}]}
                    )
                per_call[name].append((time.thread_time() - began) / args.calls * 1000)
    finally:
        server.stop()
    base = min(per_call["botocore defaults"])
    for name, values in per_call.items():
        best = min(values)
        print(
            json.dumps(
                {
                    "variant": name,
                    "client_cpu_ms_per_call": [round(v, 3) for v in values],
                    "best_vs_defaults": f"{100 * (best - base) / base:+.1f}%",
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
