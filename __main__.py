"""MarketStream's Pulumi program: stack config -> components -> exports.

The paths and the layout are described in docs/architecture.md.
"""

import json

import pulumi

from infra import outputs
from infra.code import CodeBundle, CodeBundleArgs
from infra.config import load_config
from infra.dashboard import DashboardSite, DashboardSiteArgs
from infra.fanout import FanoutPath, FanoutPathArgs
from infra.ingest import IngestPath, IngestPathArgs
from infra.observability import Observability, ObservabilityArgs, WatchedFunction
from infra.query import QueryPath, QueryPathArgs
from infra.storage import TickStore, TickStoreArgs

config = load_config()

bundle = CodeBundle("code", CodeBundleArgs(config=config))
store = TickStore("ticks", TickStoreArgs(config=config))
ingest = IngestPath(
    "ingest",
    IngestPathArgs(
        config=config,
        table_name=store.table_name,
        table_arn=store.table_arn,
        code=bundle.code,
        layer_arn=bundle.layer_arn,
    ),
)
query = QueryPath(
    "query",
    QueryPathArgs(
        config=config,
        table_name=store.table_name,
        table_arn=store.table_arn,
        bars_table_name=store.bars_table_name,
        bars_table_arn=store.bars_table_arn,
        code=bundle.code,
        layer_arn=bundle.layer_arn,
    ),
)
fanout = FanoutPath(
    "fanout",
    FanoutPathArgs(
        config=config,
        stream_arn=store.stream_arn,
        table_name=store.table_name,
        table_arn=store.table_arn,
        bars_table_name=store.bars_table_name,
        bars_table_arn=store.bars_table_arn,
        code=bundle.code,
        layer_arn=bundle.layer_arn,
    ),
)
site = DashboardSite("dashboard", DashboardSiteArgs(config=config, ws_url=fanout.ws_url))
observability = Observability(
    "ops",
    ObservabilityArgs(
        config=config,
        table_name=store.table_name,
        table_arn=store.table_arn,
        functions={
            "ingest": WatchedFunction.of(ingest.ingest_function),
            "replay": WatchedFunction.of(ingest.replay_function),
            "authorizer": WatchedFunction.of(ingest.authorizer_function),
            "query": WatchedFunction.of(query.query_function),
            "fanout": WatchedFunction.of(fanout.fanout_function),
            "ws": WatchedFunction.of(fanout.ws_function),
            "broadcast": WatchedFunction.of(fanout.broadcast_function),
        },
        stream_consumers=("fanout", "broadcast"),
        fanout_failure_queue_name=fanout.failure_queue_name,
        spill_queue_name=ingest.spill_queue_name,
        dlq_name=ingest.dlq_name,
        ingest_api_id=ingest.api_id,
        ingest_stage=ingest.stage_name,
        query_api_name=query.api_name,
        query_stage=query.stage_name,
    ),
)

exports: dict[str, pulumi.Output[str]] = {
    outputs.INGEST_URL: ingest.ingest_url,
    outputs.QUERY_BASE_URL: query.base_url,
    outputs.INGEST_TOKEN: ingest.ingest_token,
    outputs.BACKFILL_TOKEN: ingest.backfill_token,
    outputs.READ_TOKEN: fanout.read_token,
    outputs.QUERY_API_KEY: query.first_api_key,
    outputs.TABLE_NAME: store.table_name,
    outputs.BARS_TABLE_NAME: store.bars_table_name,
    outputs.SPILL_QUEUE_URL: ingest.spill_queue_url,
    outputs.DLQ_URL: ingest.dlq_url,
    outputs.CLOUDWATCH_DASHBOARD_URL: observability.dashboard_url,
    outputs.WS_URL: fanout.ws_url,
    outputs.DASHBOARD_URL: site.url,
    # One string, as stack outputs read by tools are simplest flat: a JSON object of name -> URL.
    outputs.SUBSCRIBER_QUEUE_URLS: fanout.subscriber_queue_urls.apply(
        lambda urls: json.dumps(urls, sort_keys=True)
    ),
}
for key, value in exports.items():
    pulumi.export(key, value)
