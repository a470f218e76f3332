"""Least privilege: walk every IAM policy the program declares, for each stack.

GIVEN the program run under the mocks, WHEN every role policy is parsed, THEN no action has a
wildcard, every resource is an ARN of this stack, and each function holds exactly the actions
its handler calls, on exactly the resources it touches.
"""

from __future__ import annotations

import json
from typing import Any

from tests.infra.pulumi_mocks import Recorded, StackRun

FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
SECRET = "aws:secretsmanager/secret:Secret"
LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")
STREAM_READ = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)

# handler -> {(action, logical name of the resource it acts on)}; "<own logs>" is the function's
# own log group. This is the table of AWS calls each handler makes.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "handlers.ingest.handler": {
        ("dynamodb:BatchWriteItem", "ticks-table"),
        ("sqs:SendMessage", "ingest-spill"),
        ("sqs:SendMessage", "ingest-dlq"),
    },
    "handlers.query.handler": {
        ("dynamodb:Query", "ticks-table"),
        ("dynamodb:Query", "ticks-bars"),
        ("dynamodb:GetItem", "ticks-bars"),
    },
    "handlers.replay.handler": {
        ("dynamodb:BatchWriteItem", "ticks-table"),
        ("sqs:ReceiveMessage", "ingest-spill"),
        ("sqs:DeleteMessage", "ingest-spill"),
        ("sqs:GetQueueAttributes", "ingest-spill"),
        ("sqs:ChangeMessageVisibility", "ingest-spill"),
    },
    # Both ingest credentials (live and backfill); never the read token.
    "handlers.authorizer.handler": {
        ("secretsmanager:GetSecretValue", "ingest-token-secret"),
        ("secretsmanager:GetSecretValue", "ingest-backfill-token-secret"),
    },
    "handlers.fanout.handler": {
        *((action, "ticks-table/stream") for action in STREAM_READ),
        ("sns:Publish", "fanout-topic"),
        ("sqs:SendMessage", "fanout-failures"),
        ("dynamodb:Query", "ticks-table"),
        ("dynamodb:BatchGetItem", "ticks-bars"),
        ("dynamodb:GetItem", "ticks-bars"),
        ("dynamodb:PutItem", "ticks-bars"),
        ("dynamodb:UpdateItem", "ticks-bars"),
    },
    "handlers.ws.handler": {
        ("dynamodb:PutItem", "fanout-connections"),
        ("dynamodb:DeleteItem", "fanout-connections"),
        ("dynamodb:UpdateItem", "fanout-connections"),
        # Only the read token: a watcher's credential, never one that writes.
        ("secretsmanager:GetSecretValue", "fanout-read-token-secret"),
    },
    "handlers.broadcast.handler": {
        *((action, "ticks-table/stream") for action in STREAM_READ),
        ("dynamodb:Scan", "fanout-connections"),
        ("dynamodb:DeleteItem", "fanout-connections"),
        ("execute-api:ManageConnections", "fanout-ws/live/POST/@connections/*"),
    },
}


def _statements(policy: Recorded) -> list[dict[str, Any]]:
    document = json.loads(policy.inputs["policy"])
    assert document["Version"] == "2012-10-17"
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _resolve(run: StackRun, arn: str) -> Recorded:
    """The resource of this stack an ARN in a policy names (log streams: `<group arn>:*`)."""
    arns = run.by_arn()
    if arn in arns:
        return arns[arn]
    api = _api_of(run, arn)
    if api is not None:
        return api
    assert arn.endswith(":*"), f"{arn} is not an ARN of this stack"
    group = arns.get(arn.removesuffix(":*"))
    assert group is not None, f"{arn} is not under an ARN of this stack"
    assert group.typ == "aws:cloudwatch/logGroup:LogGroup", f"{arn}: only log groups take :*"
    return group


def _api_of(run: StackRun, arn: str) -> Recorded | None:
    """The API whose execution ARN `arn` extends (`<execution arn>/<stage>/<method>/<path>`)."""
    for api in run.of_type("aws:apigatewayv2/api:Api"):
        if arn.startswith(api.outputs["executionArn"] + "/"):
            return api
    return None


def _label(run: StackRun, target: Recorded, arn: str) -> str:
    """How EXPECTED names an ARN: the resource's name, `/stream` for its stream, or the API's
    name with the route path (execute-api ARNs name stage, method and path under the API)."""
    if arn == target.computed.get("streamArn"):
        return f"{target.name}/stream"
    if target.typ == "aws:apigatewayv2/api:Api" and arn != target.outputs["executionArn"]:
        return target.name + arn.removeprefix(target.outputs["executionArn"])
    return target.name


def _grants(run: StackRun, function: Recorded) -> set[tuple[str, str]]:
    """(action, resource name) pairs the function's role allows, via every policy on it."""
    role = next(r for r in run.of_type(ROLE) if r.outputs["arn"] == function.inputs["role"])
    policies = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    assert policies, f"role {role.name} has no policy"
    pairs: set[tuple[str, str]] = set()
    for policy in policies:
        for statement in _statements(policy):
            assert statement["Effect"] == "Allow"
            assert set(statement) == {"Effect", "Action", "Resource"}, "no NotAction/Condition"
            for action in _as_list(statement["Action"]):
                for arn in _as_list(statement["Resource"]):
                    target = _resolve(run, arn)
                    own_logs = (
                        target.typ == "aws:cloudwatch/logGroup:LogGroup"
                        and target.inputs["name"] == function.inputs["loggingConfig"]["logGroup"]
                    )
                    pairs.add((action, "<own logs>" if own_logs else _label(run, target, arn)))
    return pairs


def test_no_wildcard_action_and_every_resource_is_a_stack_arn(stack_run: StackRun) -> None:
    policies = stack_run.of_type(ROLE_POLICY)
    assert len(policies) == len(EXPECTED)
    for policy in policies:
        for statement in _statements(policy):
            for action in _as_list(statement["Action"]):
                assert "*" not in action, f"{policy.name}: wildcard action {action}"
                assert ":" in action
            for arn in _as_list(statement["Resource"]):
                assert arn != "*"
                assert arn.startswith("arn:aws:"), f"{policy.name}: {arn} is not an ARN"
                _resolve(stack_run, arn)


def test_each_function_holds_exactly_what_its_handler_calls(stack_run: StackRun) -> None:
    functions = stack_run.of_type(FUNCTION)
    assert sorted(f.inputs["handler"] for f in functions) == sorted(EXPECTED)
    for function in functions:
        expected = EXPECTED[function.inputs["handler"]] | {(a, "<own logs>") for a in LOGS}
        assert _grants(stack_run, function) == expected, function.inputs["handler"]


def test_one_role_per_function_trusting_lambda_only(stack_run: StackRun) -> None:
    roles = stack_run.of_type(ROLE)
    functions = stack_run.of_type(FUNCTION)
    assert len(roles) == len(functions)
    assert len({f.inputs["role"] for f in functions}) == len(functions)
    for role in roles:
        trust = json.loads(role.inputs["assumeRolePolicy"])
        assert trust["Statement"] == [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
        assert "managedPolicyArns" not in role.inputs
        assert "inlinePolicies" not in role.inputs


def test_no_managed_policies_or_attachments(stack_run: StackRun) -> None:
    forbidden = {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
        "aws:iam/policy:Policy",
        "aws:iam/user:User",
    }
    assert not [r for r in stack_run.resources if r.typ in forbidden]


def test_api_gateway_may_invoke_only_its_own_routes(stack_run: StackRun) -> None:
    permissions = {p.name: p.inputs for p in stack_run.of_type("aws:lambda/permission:Permission")}
    http_api = stack_run.one("aws:apigatewayv2/api:Api", "ingest-api").outputs["executionArn"]
    rest_api = stack_run.one("aws:apigateway/restApi:RestApi", "query-api").outputs["executionArn"]
    ws_api = stack_run.one("aws:apigatewayv2/api:Api", "fanout-ws").outputs["executionArn"]
    authorizer = stack_run.one("aws:apigatewayv2/authorizer:Authorizer", "ingest-authorizer").id
    assert {name: p["sourceArn"] for name, p in permissions.items()} == {
        "ingest-invoke-ingest": f"{http_api}/*/POST/ingest",
        "ingest-invoke-authorizer": f"{http_api}/authorizers/{authorizer}",
        "query-invoke-query": f"{rest_api}/*/GET/*",
        "fanout-invoke-ws": f"{ws_api}/live/*",
    }
    for p in permissions.values():
        assert p["principal"] == "apigateway.amazonaws.com"
        assert p["action"] == "lambda:InvokeFunction"


def test_resource_policies_name_only_services_and_this_stacks_arns(stack_run: StackRun) -> None:
    # The alarm topic's policy: the only resource policy the program writes.
    policies = stack_run.of_type("aws:sns/topicPolicy:TopicPolicy")
    assert len(policies) == 1
    arns = stack_run.by_arn()
    for policy in policies:
        for statement in _statements(policy):
            assert statement["Effect"] == "Allow"
            assert set(statement["Principal"]) == {"Service"}, "no account or * principals"
            assert statement["Principal"]["Service"] in {
                "cloudwatch.amazonaws.com",
                "budgets.amazonaws.com",
            }
            assert _as_list(statement["Action"]) == ["sns:Publish"]
            topic = arns[statement["Resource"]]
            assert topic.typ == "aws:sns/topic:Topic"
            assert policy.inputs["arn"] == statement["Resource"]
            condition = statement["Condition"]
            sources = condition["ArnEquals"]["aws:SourceArn"]
            assert sources, "a publisher must be named"
            for source in sources:
                assert "*" not in source
                assert arns[source].typ in {
                    "aws:cloudwatch/metricAlarm:MetricAlarm",
                    "aws:budgets/budget:Budget",
                }, source
            assert condition["StringEquals"] == {"aws:SourceAccount": "123456789012"}
