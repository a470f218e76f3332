"""Key properties of every component, for each stack, asserted on the declared inputs.

The expected values come from the stack files (not from the program's defaults), so a program
that ignored a stack setting would fail here.
"""

from __future__ import annotations

import json

import pytest

from handlers.core.settings import ENV
from infra.config import StackConfig, parse_config
from tests.infra.pulumi_mocks import Recorded, StackRun

FUNCTION = "aws:lambda/function:Function"


def _config(run: StackRun) -> StackConfig:
    raw = {
        key.split(":", 1)[1]: value
        for key, value in run.config.items()
        if key.startswith("marketstream:")
    }
    return parse_config(raw)


def _function(run: StackRun, handler: str) -> Recorded:
    found = [f for f in run.of_type(FUNCTION) if f.inputs["handler"] == handler]
    assert len(found) == 1
    return found[0]


class TestTickStore:
    def test_table_keys_billing_ttl_and_stream(self, stack_run: StackRun) -> None:
        table = stack_run.one("aws:dynamodb/table:Table", "ticks-table").inputs
        assert table["hashKey"] == "symbol"
        assert table["rangeKey"] == "sk"
        assert sorted((a["name"], a["type"]) for a in table["attributes"]) == [
            ("sk", "S"),
            ("symbol", "S"),
        ]
        assert table["billingMode"] == "PAY_PER_REQUEST"
        assert table["ttl"] == {"attributeName": "expires_at", "enabled": True}
        assert table["streamEnabled"] is True
        assert table["streamViewType"] == "NEW_IMAGE"

    def test_pitr_and_deletion_protection_follow_the_stack(self, stack_run: StackRun) -> None:
        table = stack_run.one("aws:dynamodb/table:Table", "ticks-table").inputs
        prod = stack_run.stack == "prod"
        assert table["pointInTimeRecovery"] == {"enabled": prod}
        assert table["deletionProtectionEnabled"] is prod


class TestFunctions:
    def test_every_function_is_arm64_python_with_the_layer(self, stack_run: StackRun) -> None:
        layer = stack_run.one("aws:lambda/layerVersion:LayerVersion", "code-deps")
        assert layer.inputs["compatibleArchitectures"] == ["arm64"]
        assert layer.inputs["compatibleRuntimes"] == ["python3.13"]
        functions = stack_run.of_type(FUNCTION)
        assert sorted(f.inputs["handler"] for f in functions) == [
            "handlers.authorizer.handler",
            "handlers.broadcast.handler",
            "handlers.fanout.handler",
            "handlers.ingest.handler",
            "handlers.query.handler",
            "handlers.replay.handler",
            "handlers.ws.handler",
        ]
        for function in functions:
            assert function.inputs["architectures"] == ["arm64"]
            assert function.inputs["runtime"] == "python3.13"
            assert function.inputs["layers"] == [layer.outputs["arn"]]
            assert function.inputs["code"]["path"].endswith(".build/function")

    def test_memory_and_timeouts_follow_the_stack(self, stack_run: StackRun) -> None:
        config = _config(stack_run)
        for handler, memory, timeout in [
            ("handlers.ingest.handler", config.ingest_memory_mb, config.ingest_timeout_s),
            ("handlers.query.handler", config.query_memory_mb, config.query_timeout_s),
            ("handlers.replay.handler", config.replay_memory_mb, config.replay_timeout_s),
            (
                "handlers.authorizer.handler",
                config.authorizer_memory_mb,
                config.authorizer_timeout_s,
            ),
            ("handlers.fanout.handler", config.fanout_memory_mb, config.fanout_timeout_s),
            ("handlers.ws.handler", config.ws_memory_mb, config.ws_timeout_s),
            ("handlers.broadcast.handler", config.broadcast_memory_mb, config.broadcast_timeout_s),
        ]:
            function = _function(stack_run, handler).inputs
            assert (function["memorySize"], function["timeout"]) == (memory, timeout), handler
        if stack_run.stack == "prod":
            assert _function(stack_run, "handlers.ingest.handler").inputs["memorySize"] == 1024

    def test_json_logs_to_own_group_with_retention(self, stack_run: StackRun) -> None:
        retention = {"dev": 7, "prod": 90}[stack_run.stack]
        groups = {
            g.inputs["name"]: g.inputs
            for g in stack_run.of_type("aws:cloudwatch/logGroup:LogGroup")
        }
        assert len(groups) == 8  # seven functions + the HTTP API access log
        for group in groups.values():
            assert group["retentionInDays"] == retention
        level = {"dev": "DEBUG", "prod": "INFO"}[stack_run.stack]
        used = set()
        for function in stack_run.of_type(FUNCTION):
            logging = function.inputs["loggingConfig"]
            assert logging == {
                "logFormat": "JSON",
                "logGroup": logging["logGroup"],
                "applicationLogLevel": level,
                "systemLogLevel": "WARN",
            }
            assert logging["logGroup"] in groups
            used.add(logging["logGroup"])
        assert len(used) == 7

    def test_environment_variables(self, stack_run: StackRun) -> None:
        config = _config(stack_run)
        table = stack_run.one("aws:dynamodb/table:Table", "ticks-table").outputs["name"]
        spill = stack_run.one("aws:sqs/queue:Queue", "ingest-spill").outputs["url"]
        secret = stack_run.one("aws:secretsmanager/secret:Secret", "ingest-token-secret")
        env = {
            f.inputs["handler"]: f.inputs["environment"]["variables"]
            for f in stack_run.of_type(FUNCTION)
        }
        assert env["handlers.ingest.handler"] == {
            ENV.TABLE_NAME: table,
            ENV.SPILL_QUEUE_URL: spill,
            ENV.MAX_TICKS: str(config.max_ticks),
            ENV.TTL_DAYS: str(config.ttl_days),
            ENV.PAST_WINDOW_S: str(config.past_window_s),
            ENV.FUTURE_WINDOW_S: str(config.future_window_s),
            ENV.STACK: stack_run.stack,
        }
        assert (
            env["handlers.ingest.handler"][ENV.TTL_DAYS]
            == {"dev": "8", "prod": "365"}[stack_run.stack]
        )
        bars = stack_run.one("aws:dynamodb/table:Table", "ticks-bars").outputs["name"]
        assert env["handlers.query.handler"] == {ENV.TABLE_NAME: table, ENV.BARS_TABLE: bars}
        assert env["handlers.replay.handler"] == {
            ENV.TABLE_NAME: table,
            ENV.STACK: stack_run.stack,
        }
        backfill = stack_run.one("aws:secretsmanager/secret:Secret", "ingest-backfill-token-secret")
        assert backfill.inputs["name"] == f"marketstream/{stack_run.stack}/backfill-token"
        assert env["handlers.authorizer.handler"] == {
            ENV.TOKEN_SECRET_ID: secret.outputs["arn"],
            ENV.BACKFILL_TOKEN_SECRET_ID: backfill.outputs["arn"],
        }


class TestIngestPath:
    def test_route_integration_and_authorizer(self, stack_run: StackRun) -> None:
        api = stack_run.one("aws:apigatewayv2/api:Api", "ingest-api")
        assert api.inputs["protocolType"] == "HTTP"
        route = stack_run.one("aws:apigatewayv2/route:Route", "ingest-route").inputs
        integration = stack_run.one(
            "aws:apigatewayv2/integration:Integration", "ingest-integration"
        )
        authorizer = stack_run.one("aws:apigatewayv2/authorizer:Authorizer", "ingest-authorizer")
        ingest = _function(stack_run, "handlers.ingest.handler")
        auth_fn = _function(stack_run, "handlers.authorizer.handler")

        assert route["routeKey"] == "POST /ingest"
        assert route["apiId"] == api.id
        assert route["target"] == f"integrations/{integration.id}"
        assert route["authorizationType"] == "CUSTOM"
        assert route["authorizerId"] == authorizer.id

        assert integration.inputs["payloadFormatVersion"] == "2.0"
        assert integration.inputs["integrationType"] == "AWS_PROXY"
        assert integration.inputs["integrationUri"] == ingest.outputs["invokeArn"]

        assert authorizer.inputs["authorizerType"] == "REQUEST"
        assert authorizer.inputs["authorizerUri"] == auth_fn.outputs["invokeArn"]
        assert authorizer.inputs["authorizerResultTtlInSeconds"] == 300
        assert authorizer.inputs["enableSimpleResponses"] is True
        assert authorizer.inputs["authorizerPayloadFormatVersion"] == "2.0"
        assert authorizer.inputs["identitySources"] == ["$request.header.Authorization"]

    def test_stage_throttling_and_access_logs(self, stack_run: StackRun) -> None:
        stage = stack_run.one("aws:apigatewayv2/stage:Stage", "ingest-stage").inputs
        rate, burst = {"dev": (500, 1000), "prod": (2000, 4000)}[stack_run.stack]
        assert stage["name"] == "$default"
        assert stage["autoDeploy"] is True
        assert stage["defaultRouteSettings"]["throttlingRateLimit"] == rate
        assert stage["defaultRouteSettings"]["throttlingBurstLimit"] == burst
        logs = stack_run.one("aws:cloudwatch/logGroup:LogGroup", "ingest-access-logs")
        assert stage["accessLogSettings"]["destinationArn"] == logs.outputs["arn"]
        fields = json.loads(stage["accessLogSettings"]["format"])
        assert fields["status"] == "$context.status"
        assert fields["requestId"] == "$context.requestId"

    def test_async_retries_and_on_failure_to_dlq(self, stack_run: StackRun) -> None:
        (invoke,) = stack_run.of_type(
            "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
        )
        dlq = stack_run.one("aws:sqs/queue:Queue", "ingest-dlq")
        ingest = _function(stack_run, "handlers.ingest.handler")
        assert invoke.inputs["functionName"] == ingest.outputs["name"]
        assert invoke.inputs["maximumRetryAttempts"] == 2
        assert invoke.inputs["destinationConfig"] == {
            "onFailure": {"destination": dlq.outputs["arn"]}
        }

    def test_replay_event_source(self, stack_run: StackRun) -> None:
        mapping = stack_run.one(
            "aws:lambda/eventSourceMapping:EventSourceMapping", "ingest-replay-source"
        )
        spill = stack_run.one("aws:sqs/queue:Queue", "ingest-spill")
        replay = _function(stack_run, "handlers.replay.handler")
        size, window = {"dev": (10, 1), "prod": (100, 2)}[stack_run.stack]
        assert mapping.inputs["eventSourceArn"] == spill.outputs["arn"]
        assert mapping.inputs["functionName"] == replay.outputs["arn"]
        assert mapping.inputs["batchSize"] == size
        assert mapping.inputs["maximumBatchingWindowInSeconds"] == window
        assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]

    def test_spill_queue_visibility_and_redrive(self, stack_run: StackRun) -> None:
        spill = stack_run.one("aws:sqs/queue:Queue", "ingest-spill").inputs
        dlq = stack_run.one("aws:sqs/queue:Queue", "ingest-dlq")
        replay = _function(stack_run, "handlers.replay.handler").inputs
        assert spill["visibilityTimeoutSeconds"] >= 6 * replay["timeout"]
        redrive = json.loads(spill["redrivePolicy"])
        assert redrive == {
            "deadLetterTargetArn": dlq.outputs["arn"],
            "maxReceiveCount": {"dev": 5, "prod": 8}[stack_run.stack],
        }
        assert dlq.inputs["messageRetentionSeconds"] == 14 * 24 * 3600

    def test_token_is_stable_and_held_in_secrets_manager(self, stack_run: StackRun) -> None:
        token = stack_run.one("random:index/randomPassword:RandomPassword", "ingest-token")
        secret = stack_run.one("aws:secretsmanager/secret:Secret", "ingest-token-secret")
        version = stack_run.one(
            "aws:secretsmanager/secretVersion:SecretVersion", "ingest-token-value"
        ).inputs
        assert token.inputs["length"] >= 32
        assert version["secretId"] == secret.id
        assert version["secretString"] == token.outputs["result"]
        assert (
            "secretString"
            in stack_run.one(
                "aws:secretsmanager/secretVersion:SecretVersion", "ingest-token-value"
            ).secret_inputs
        )
        assert secret.inputs["name"] == f"marketstream/{stack_run.stack}/ingest-token"
        assert secret.inputs["recoveryWindowInDays"] == {"dev": 0, "prod": 30}[stack_run.stack]


class TestQueryPath:
    def test_get_routes_require_api_keys_and_proxy_to_query(self, stack_run: StackRun) -> None:
        api = stack_run.one("aws:apigateway/restApi:RestApi", "query-api")
        query = _function(stack_run, "handlers.query.handler")
        resources = {
            r.id: r.inputs["pathPart"]
            for r in stack_run.of_type("aws:apigateway/resource:Resource")
        }
        assert sorted(resources.values()) == ["bars", "latest", "query"]
        methods = stack_run.of_type("aws:apigateway/method:Method")
        assert len(methods) == 3
        for method in methods:
            assert method.inputs["httpMethod"] == "GET"
            assert method.inputs["apiKeyRequired"] is True
            assert method.inputs["restApi"] == api.id
        integrations = stack_run.of_type("aws:apigateway/integration:Integration")
        assert sorted(resources[i.inputs["resourceId"]] for i in integrations) == [
            "bars",
            "latest",
            "query",
        ]
        for integration in integrations:
            assert integration.inputs["type"] == "AWS_PROXY"
            assert integration.inputs["integrationHttpMethod"] == "POST"
            assert integration.inputs["uri"] == query.outputs["invokeArn"]

    def test_deployment_has_triggers_and_a_separate_stage(self, stack_run: StackRun) -> None:
        deployment = stack_run.one("aws:apigateway/deployment:Deployment", "query-deployment")
        redeploy = deployment.inputs["triggers"]["redeployment"]
        assert len(redeploy) == 64
        int(redeploy, 16)
        assert "stageName" not in deployment.inputs
        stage = stack_run.one("aws:apigateway/stage:Stage", "query-stage").inputs
        assert stage["deployment"] == deployment.id
        assert stage["stageName"] == "v1"
        throttle = stack_run.one(
            "aws:apigateway/methodSettings:MethodSettings", "query-stage-throttle"
        ).inputs
        rate, burst = {"dev": (100, 200), "prod": (1000, 2000)}[stack_run.stack]
        assert throttle["methodPath"] == "*/*"
        assert throttle["settings"]["throttlingRateLimit"] == rate
        assert throttle["settings"]["throttlingBurstLimit"] == burst

    def test_usage_plan_per_tier(self, stack_run: StackRun) -> None:
        tiers = stack_run.config["marketstream:usagePlans"]
        plans = {
            p.name.removeprefix("query-plan-"): p.inputs
            for p in stack_run.of_type("aws:apigateway/usagePlan:UsagePlan")
        }
        assert sorted(plans) == sorted(tiers)
        api = stack_run.one("aws:apigateway/restApi:RestApi", "query-api")
        for tier, spec in tiers.items():
            plan = plans[tier]
            assert plan["throttleSettings"] == {
                "rateLimit": spec["rateLimit"],
                "burstLimit": spec["burstLimit"],
            }
            assert plan["quotaSettings"] == {
                "limit": spec["quotaLimit"],
                "period": spec["quotaPeriod"],
            }
            assert plan["apiStages"] == [{"apiId": api.id, "stage": "v1"}]

    def test_one_key_per_client_bound_to_its_tier(self, stack_run: StackRun) -> None:
        clients = stack_run.config["marketstream:queryClients"]
        keys = {
            k.name.removeprefix("query-key-"): k
            for k in stack_run.of_type("aws:apigateway/apiKey:ApiKey")
        }
        assert sorted(keys) == sorted(c["name"] for c in clients)
        bindings = stack_run.of_type("aws:apigateway/usagePlanKey:UsagePlanKey")
        assert len(bindings) == len(clients)
        for client in clients:
            key = keys[client["name"]]
            value = stack_run.one(
                "random:index/randomPassword:RandomPassword", f"query-key-{client['name']}-value"
            )
            assert key.inputs["value"] == value.outputs["result"]
            assert "value" in key.secret_inputs, "the key value stays a Pulumi secret"
            assert len(key.inputs["value"]) >= 20  # API Gateway's minimum
            (binding,) = [b.inputs for b in bindings if b.inputs["keyId"] == key.id]
            plan = stack_run.by_id(binding["usagePlanId"])
            assert plan.name == f"query-plan-{client['tier']}"
            assert binding["keyType"] == "API_KEY"


@pytest.mark.parametrize(
    "token",
    [
        "marketstream:index:TickStore",
        "marketstream:index:IngestPath",
        "marketstream:index:QueryPath",
        "marketstream:index:CodeBundle",
        "marketstream:index:Observability",
        "marketstream:index:FanoutPath",
    ],
)
def test_components_are_declared_once(stack_run: StackRun, token: str) -> None:
    assert len(stack_run.of_type(token)) == 1
    assert len(stack_run.of_type("marketstream:index:PythonFunction")) == 7
