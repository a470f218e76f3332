"""Stack output key names, shared by the Pulumi program, the local cloud and the load generator.

Keeping them in one module means a renamed export breaks the type checker and the tests, not a
user's load run.
"""

from typing import Final

__all__ = [
    "ALL_KEYS",
    "BACKFILL_TOKEN",
    "BARS_TABLE_NAME",
    "CLOUDWATCH_DASHBOARD_URL",
    "DASHBOARD_URL",
    "DLQ_URL",
    "INGEST_TOKEN",
    "INGEST_URL",
    "QUERY_API_KEY",
    "QUERY_BASE_URL",
    "READ_TOKEN",
    "SECRET_KEYS",
    "SPILL_QUEUE_URL",
    "SUBSCRIBER_QUEUE_URLS",
    "TABLE_NAME",
    "WS_URL",
]

INGEST_URL: Final = "ingest_url"
"""Full URL of `POST /ingest`."""
QUERY_BASE_URL: Final = "query_base_url"
"""Base URL of the query stage; routes are `/query`, `/latest`, `/bars`."""
INGEST_TOKEN: Final = "ingest_token"  # noqa: S105 (a key name, not a secret)
"""Bearer token the ingest authorizer accepts for ticks in the live window (secret)."""
BACKFILL_TOKEN: Final = "backfill_token"  # noqa: S105 (a key name, not a secret)
"""Bearer token the ingest authorizer accepts for ticks older than the live window (secret)."""
READ_TOKEN: Final = "read_token"  # noqa: S105 (a key name, not a secret)
"""Token of the WebSocket `$connect` and the dashboard: read only (secret)."""
QUERY_API_KEY: Final = "query_api_key"
"""API key value of the first configured query client (secret)."""
TABLE_NAME: Final = "table_name"
BARS_TABLE_NAME: Final = "bars_table_name"
"""The table of OHLCV rollup pages (the bars benchmark reads it to count items)."""
SPILL_QUEUE_URL: Final = "spill_queue_url"
DLQ_URL: Final = "dlq_url"
DASHBOARD_URL: Final = "dashboard_url"
"""URL of the live tick dashboard page: CloudFront with `?ws=` (the page asks for the token);
on the local cloud, the gateway's `/dashboard/` with `?ws=...&token=<read token>`."""
WS_URL: Final = "ws_url"
"""`wss://` URL of the WebSocket stage; connect with `?token=<read token>`."""
SUBSCRIBER_QUEUE_URLS: Final = "subscriber_queue_urls"
"""JSON object: fan-out subscriber name -> SQS queue URL (`{}` with no subscribers)."""
CLOUDWATCH_DASHBOARD_URL: Final = "cloudwatch_dashboard_url"
"""Console URL of the stack's CloudWatch dashboard."""

ALL_KEYS: Final = (
    INGEST_URL,
    QUERY_BASE_URL,
    INGEST_TOKEN,
    BACKFILL_TOKEN,
    READ_TOKEN,
    QUERY_API_KEY,
    TABLE_NAME,
    BARS_TABLE_NAME,
    SPILL_QUEUE_URL,
    DLQ_URL,
    CLOUDWATCH_DASHBOARD_URL,
    WS_URL,
    SUBSCRIBER_QUEUE_URLS,
    DASHBOARD_URL,
)
"""Keys every stack exports."""
SECRET_KEYS: Final = frozenset({INGEST_TOKEN, BACKFILL_TOKEN, READ_TOKEN, QUERY_API_KEY})
