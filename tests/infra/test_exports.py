"""The stack exports every key of `infra.outputs`, with the secrets marked secret."""

from __future__ import annotations

import json

from infra import outputs
from tests.infra.pulumi_mocks import StackRun


def test_every_key_is_exported_with_the_right_value(stack_run: StackRun) -> None:
    assert set(stack_run.exports) == set(outputs.ALL_KEYS)
    http_api = stack_run.one("aws:apigatewayv2/api:Api", "ingest-api").outputs["apiEndpoint"]
    stage = stack_run.one("aws:apigateway/stage:Stage", "query-stage").outputs["invokeUrl"]
    token = stack_run.one("random:index/randomPassword:RandomPassword", "ingest-token")
    first = stack_run.config["marketstream:queryClients"][0]["name"]
    key = stack_run.one("aws:apigateway/apiKey:ApiKey", f"query-key-{first}")
    ws_api = stack_run.one("aws:apigatewayv2/api:Api", "fanout-ws").outputs["apiEndpoint"]
    assert ws_api.startswith("wss://")
    assert stack_run.exports == {
        outputs.INGEST_URL: f"{http_api}/ingest",
        outputs.QUERY_BASE_URL: stage,
        outputs.INGEST_TOKEN: token.outputs["result"],
        outputs.BACKFILL_TOKEN: stack_run.one(
            "random:index/randomPassword:RandomPassword", "ingest-backfill-token"
        ).outputs["result"],
        outputs.READ_TOKEN: stack_run.one(
            "random:index/randomPassword:RandomPassword", "fanout-read-token"
        ).outputs["result"],
        outputs.QUERY_API_KEY: key.inputs["value"],
        outputs.TABLE_NAME: stack_run.one("aws:dynamodb/table:Table", "ticks-table").outputs[
            "name"
        ],
        outputs.BARS_TABLE_NAME: stack_run.one("aws:dynamodb/table:Table", "ticks-bars").outputs[
            "name"
        ],
        outputs.SPILL_QUEUE_URL: stack_run.one("aws:sqs/queue:Queue", "ingest-spill").outputs[
            "url"
        ],
        outputs.DLQ_URL: stack_run.one("aws:sqs/queue:Queue", "ingest-dlq").outputs["url"],
        outputs.CLOUDWATCH_DASHBOARD_URL: (
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
            f"#dashboards/dashboard/marketstream-{stack_run.stack}"
        ),
        outputs.WS_URL: f"{ws_api}/live",
        outputs.DASHBOARD_URL: (
            "https://"
            + stack_run.one("aws:cloudfront/distribution:Distribution", "dashboard-cdn").outputs[
                "domainName"
            ]
            + f"/index.html?ws={ws_api}/live"
        ),
        outputs.SUBSCRIBER_QUEUE_URLS: json.dumps(
            {
                s["name"]: stack_run.one("aws:sqs/queue:Queue", f"fanout-sub-{s['name']}").outputs[
                    "url"
                ]
                for s in stack_run.config["marketstream:subscribers"]
            },
            sort_keys=True,
        ),
    }


def test_secret_exports_are_secret(stack_run: StackRun) -> None:
    assert stack_run.secret_exports == set(outputs.SECRET_KEYS)
