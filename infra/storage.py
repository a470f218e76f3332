"""`TickStore`: the DynamoDB tables of tick blocks and of their OHLCV rollups.

Layout: docs/architecture.md (Data model) and docs/storage.md. The bars table is separate from the
tick table so that bar writes stay out of the tick table's stream: its two readers would otherwise
receive (and have to filter) every rollup write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
from pulumi_aws import dynamodb

from infra.config import StackConfig

__all__ = ["PARTITION_KEY", "SORT_KEY", "TTL_ATTRIBUTE", "TickStore", "TickStoreArgs"]

# The item schema `handlers.core.blocks` reads and writes.
PARTITION_KEY: Final = "symbol"
SORT_KEY: Final = "sk"
TTL_ATTRIBUTE: Final = "expires_at"


@dataclass(frozen=True)
class TickStoreArgs:
    """Durability settings of the table."""

    config: StackConfig


class TickStore(pulumi.ComponentResource):
    """On-demand tables keyed by (symbol, sk): tick blocks (TTL, NEW_IMAGE stream) and bars."""

    table_name: pulumi.Output[str]
    """Physical table name (handlers get it through their environment)."""
    table_arn: pulumi.Output[str]
    """ARN of the table (IAM grants are scoped to it)."""
    stream_arn: pulumi.Output[str]
    """ARN of the table's stream (the fan-out consumer reads it)."""
    bars_table_name: pulumi.Output[str]
    """Physical name of the bars table (rollup pages and marks)."""
    bars_table_arn: pulumi.Output[str]
    """ARN of the bars table."""

    def __init__(
        self, name: str, args: TickStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("marketstream:index:TickStore", name, None, opts)
        config = args.config
        table = dynamodb.Table(
            f"{name}-table",
            billing_mode="PAY_PER_REQUEST",
            hash_key=PARTITION_KEY,
            range_key=SORT_KEY,
            attributes=[
                {"name": PARTITION_KEY, "type": "S"},
                {"name": SORT_KEY, "type": "S"},
            ],
            # TTL stays enabled even with ttlDays=0: handlers then omit the attribute, and
            # items without it never expire (toggling TTL off and on takes up to an hour).
            ttl={"attribute_name": TTL_ATTRIBUTE, "enabled": True},
            stream_enabled=True,
            stream_view_type="NEW_IMAGE",
            point_in_time_recovery={"enabled": config.point_in_time_recovery},
            deletion_protection_enabled=config.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self, protect=config.deletion_protection),
        )
        bars = dynamodb.Table(
            f"{name}-bars",
            billing_mode="PAY_PER_REQUEST",
            hash_key=PARTITION_KEY,
            range_key=SORT_KEY,
            attributes=[
                {"name": PARTITION_KEY, "type": "S"},
                {"name": SORT_KEY, "type": "S"},
            ],
            # Pages expire by the stack's barRetentionDays; pages of kept intervals carry no TTL.
            ttl={"attribute_name": TTL_ATTRIBUTE, "enabled": True},
            point_in_time_recovery={"enabled": config.point_in_time_recovery},
            deletion_protection_enabled=config.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self, protect=config.deletion_protection),
        )
        self.table_name = table.name
        self.table_arn = table.arn
        self.stream_arn = table.stream_arn
        self.bars_table_name = bars.name
        self.bars_table_arn = bars.arn
        self.register_outputs(
            {
                "table_name": table.name,
                "table_arn": table.arn,
                "stream_arn": table.stream_arn,
                "bars_table_name": bars.name,
                "bars_table_arn": bars.arn,
            }
        )
