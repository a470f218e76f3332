"""The local provider: creates what the program declares and answers with AWS-shaped outputs.

Data-plane resources (tables, queues, secrets, parameters, topics) are created in moto as the
mock runtime registers them, so the engine's dependency order is the creation order and every
ARN and URL the program passes on is moto's own. API Gateway and Lambda resources get ids and
URLs that point at the local gateway; the gateway and the Lambda environments read them back
from the recorded deployment. Types that are deliberately not emulated are accepted with
plausible outputs; anything else is recorded as unknown and reported at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config

from localcloud.alarms.definition import INITIAL_REASON, AlarmDefinition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

__all__ = [
    "ACCEPTED",
    "ACCOUNT_ID",
    "EMULATED",
    "MOTO_ACCESS_KEY",
    "LocalProvider",
    "invoke_arn_function",
    "moto_session",
]

ACCOUNT_ID: Final = "123456789012"
"""moto's default account: ARNs the program builds and ARNs moto returns must agree."""

EMULATED: Final = {
    "aws:dynamodb/table:Table": "moto: table, key schema, indexes, stream, TTL",
    "aws:sqs/queue:Queue": "moto: queue with its attributes and redrive policy",
    "aws:sqs/redrivePolicy:RedrivePolicy": "moto: redrive policy set on the queue",
    "aws:secretsmanager/secret:Secret": "moto: secret",
    "aws:secretsmanager/secretVersion:SecretVersion": "moto: secret value",
    "aws:ssm/parameter:Parameter": "moto: parameter",
    "aws:sns/topic:Topic": "moto: topic",
    "aws:sns/topicSubscription:TopicSubscription": "moto: subscription (SQS delivery)",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "moto: alarm; evaluated by localcloud.alarms",
    "aws:cloudwatch/dashboard:Dashboard": "moto: dashboard; the gateway draws it",
    "aws:cloudwatch/queryDefinition:QueryDefinition": "run by `python -m localcloud insights`",
    "aws:lambda/function:Function": "in-process Lambda environment (localcloud.runtime.functions)",
    "aws:lambda/eventSourceMapping:EventSourceMapping": "poller (localcloud.sources)",
    "aws:apigatewayv2/api:Api": "gateway: HTTP or WebSocket API mounted at /<apiId>",
    "aws:apigatewayv2/integration:Integration": "gateway: Lambda proxy integration",
    "aws:apigatewayv2/authorizer:Authorizer": "gateway: Lambda REQUEST authorizer, cached",
    "aws:apigatewayv2/route:Route": "gateway: route key -> integration",
    "aws:apigatewayv2/stage:Stage": "gateway: stage and its route throttling",
    "aws:apigatewayv2/routeResponse:RouteResponse": "gateway: WebSocket reply to the client",
    "aws:apigateway/restApi:RestApi": "gateway: REST API mounted at /<restApiId>/<stage>",
    "aws:apigateway/resource:Resource": "gateway: resource path",
    "aws:apigateway/method:Method": "gateway: method, API key requirement",
    "aws:apigateway/integration:Integration": "gateway: Lambda proxy integration",
    "aws:apigateway/stage:Stage": "gateway: stage",
    "aws:apigateway/methodSettings:MethodSettings": "gateway: stage/method throttling",
    "aws:apigateway/usagePlan:UsagePlan": "gateway: usage plan throttle and quota",
    "aws:apigateway/apiKey:ApiKey": "gateway: API key (value generated if not given)",
    "aws:apigateway/usagePlanKey:UsagePlanKey": "gateway: key bound to its usage plan",
    "random:index/randomPassword:RandomPassword": "generated locally",
    "random:index/randomString:RandomString": "generated locally",
    "random:index/randomId:RandomId": "generated locally",
    "random:index/randomUuid:RandomUuid": "generated locally",
}
"""Types with a local effect, and what it is."""

ACCEPTED: Final = {
    "aws:s3/bucket:Bucket": "the gateway serves dashboard/ at /dashboard/ instead",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "no S3 site locally",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "no S3 site locally",
    "aws:s3/bucketObjectv2:BucketObjectv2": "the gateway serves the files from dashboard/",
    "aws:s3/bucketPolicy:BucketPolicy": "no S3 site locally",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "no CloudFront locally",
    "aws:cloudfront/distribution:Distribution": "no CloudFront locally",
    "aws:apigateway/deployment:Deployment": "the gateway always serves the current program",
    "aws:iam/role:Role": "no IAM enforcement locally",
    "aws:iam/rolePolicy:RolePolicy": "no IAM enforcement locally",
    "aws:iam/policy:Policy": "no IAM enforcement locally",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "no IAM enforcement locally",
    "aws:cloudwatch/logGroup:LogGroup": "handlers log to the local process's stderr",
    "aws:lambda/permission:Permission": "the gateway may always invoke",
    "aws:lambda/layerVersion:LayerVersion": "handlers use this interpreter's packages",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": (
        "asynchronous invokes are not emulated"
    ),
    "aws:budgets/budget:Budget": "no billing locally",
    "aws:apigateway/account:Account": "no CloudWatch locally",
    "aws:sns/topicPolicy:TopicPolicy": "no resource policies locally",
    "aws:sqs/queuePolicy:QueuePolicy": "no resource policies locally",
}
"""Types accepted with plausible outputs and no local effect (listed once at start-up)."""

_CALLER_IDENTITY: Final = "aws:index/getCallerIdentity:getCallerIdentity"
_GET_REGION: Final = "aws:index/getRegion:getRegion"
_GET_PARTITION: Final = "aws:index/getPartition:getPartition"
_INVOKE_PREFIX: Final = ":lambda:path/2015-03-31/functions/"
_ALNUM: Final = string.ascii_lowercase + string.digits


def invoke_arn_function(uri: str) -> str:
    """The function ARN (or name) inside an API Gateway Lambda integration URI."""
    if _INVOKE_PREFIX in uri:
        return uri.split(_INVOKE_PREFIX, 1)[1].removesuffix("/invocations")
    return uri


MOTO_ACCESS_KEY: Final = "localcloud"
"""The fake access key of every client of moto (moto answers all of them as one account)."""


def moto_session(region: str) -> boto3.session.Session:
    """A boto3 session with fake credentials, apart from any the user has configured."""
    return boto3.session.Session(
        aws_access_key_id=MOTO_ACCESS_KEY,
        aws_secret_access_key="localcloud",  # noqa: S106 - moto accepts anything
        region_name=region,
    )


def _short_id(seed: str, length: int) -> str:
    """A stable lowercase alphanumeric id derived from `seed` (API Gateway's id alphabet)."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_ALNUM))
        chars.append(_ALNUM[index])
    return "".join(chars)


def _password(inputs: dict[str, Any]) -> str:
    length = int(inputs.get("length", 16))
    alphabet = ""
    if inputs.get("upper", True):
        alphabet += string.ascii_uppercase
    if inputs.get("lower", True):
        alphabet += string.ascii_lowercase
    if inputs.get("numeric", inputs.get("number", True)):
        alphabet += string.digits
    if inputs.get("special", True):
        alphabet += str(inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?")
    alphabet = alphabet or string.ascii_letters
    return "".join(secrets.choice(alphabet) for _ in range(length))


class LocalProvider:
    """The `Provider` of `localcloud.deploy.program`: creates resources in moto and the gateway."""

    def __init__(
        self, *, stack: str, region: str, gateway_url: str, moto_endpoint: Callable[[], str]
    ) -> None:
        self._stack = stack
        self._region = region
        self._gateway = gateway_url.rstrip("/")
        self._moto_endpoint = moto_endpoint
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._rest_paths: dict[str, str] = {}
        self._ws_apis: set[str] = set()
        self.unknown_types: set[str] = set()
        """Types the provider knows nothing about (outputs are the inputs echoed)."""
        self.unknown_calls: set[str] = set()

    # -- clients --------------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                endpoint = self._moto_endpoint()  # blocks until moto listens
                client = moto_session(self._region).client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=endpoint,
                    config=Config(retries={"max_attempts": 2, "mode": "standard"}),
                )
                self._clients[service] = client
            return client

    def _dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self._client("dynamodb")
        return client

    def _sqs(self) -> SQSClient:
        client: SQSClient = self._client("sqs")
        return client

    def _secrets(self) -> SecretsManagerClient:
        client: SecretsManagerClient = self._client("secretsmanager")
        return client

    def _ssm(self) -> SSMClient:
        client: SSMClient = self._client("ssm")
        return client

    def _sns(self) -> SNSClient:
        client: SNSClient = self._client("sns")
        return client

    # -- naming ---------------------------------------------------------------------------

    def _autoname(self, logical: str, inputs: dict[str, Any], key: str = "name") -> str:
        """The physical name: the `name` input, else Pulumi's `<logical>-<7 hex>` auto-name."""
        given = inputs.get(key)
        if given:
            return str(given)
        suffix = hashlib.sha256(f"{self._stack}/{logical}".encode()).hexdigest()[:7]
        return f"{logical}-{suffix}"

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self._region}:{ACCOUNT_ID}:{resource}"

    # -- Provider -------------------------------------------------------------------------

    def create(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Create one resource; its id and computed outputs."""
        method = _CREATORS.get(typ)
        if method is not None:
            return method(self, name, inputs)
        if typ not in ACCEPTED:
            self.unknown_types.add(typ)
        return self._accepted(typ, name, inputs)

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        """Answer the provider functions a program commonly calls."""
        if token == _CALLER_IDENTITY:
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/localcloud",
                "userId": "localcloud",
                "id": ACCOUNT_ID,
            }
        if token == _GET_REGION:
            return {"name": self._region, "region": self._region, "id": self._region}
        if token == _GET_PARTITION:
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        self.unknown_calls.add(token)
        return {}

    # -- accepted without local effect ----------------------------------------------------

    def _accepted(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        service, _, kind = typ.partition(":")[2].partition("/")
        physical = self._autoname(name, inputs)
        out: dict[str, Any] = {}
        if typ == "aws:iam/role:Role":
            return physical, {"name": physical, "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{physical}"}
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            return physical, {"name": physical, "arn": self._arn("logs", f"log-group:{physical}")}
        if typ == "aws:lambda/layerVersion:LayerVersion":
            layer = self._arn("lambda", f"layer:{inputs.get('layerName', physical)}")
            return f"{layer}:1", {"arn": f"{layer}:1", "layerArn": layer, "version": "1"}
        if typ == "aws:apigateway/deployment:Deployment":
            return _short_id(f"{self._stack}/{name}", 6), {"createdDate": _now()}
        out = {"arn": self._arn(service, f"{kind.split(':')[0]}/{physical}")}
        return f"{name}-{_short_id(name, 8)}", out

    # -- moto-backed ----------------------------------------------------------------------

    def _table(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        physical = self._autoname(name, inputs)
        keys = [{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}]
        if inputs.get("rangeKey"):
            keys.append({"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"})
        request: dict[str, Any] = {
            "TableName": physical,
            "KeySchema": keys,
            "AttributeDefinitions": [
                {"AttributeName": a["name"], "AttributeType": a["type"]}
                for a in inputs.get("attributes", [])
            ],
            "BillingMode": inputs.get("billingMode") or "PROVISIONED",
        }
        if request["BillingMode"] == "PROVISIONED":
            request["ProvisionedThroughput"] = {
                "ReadCapacityUnits": int(inputs.get("readCapacity") or 1),
                "WriteCapacityUnits": int(inputs.get("writeCapacity") or 1),
            }
        indexes = [_index(gsi, request) for gsi in inputs.get("globalSecondaryIndexes", [])]
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        if inputs.get("streamEnabled"):
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": inputs.get("streamViewType") or "NEW_AND_OLD_IMAGES",
            }
        table = self._dynamodb().create_table(**request)["TableDescription"]
        ttl = inputs.get("ttl") or {}
        if ttl.get("enabled") and ttl.get("attributeName"):
            self._dynamodb().update_time_to_live(
                TableName=physical,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]},
            )
        out = {"name": physical, "arn": table["TableArn"]}
        if "LatestStreamArn" in table:
            out["streamArn"] = table["LatestStreamArn"]
            out["streamLabel"] = table.get("LatestStreamLabel", "")
        return physical, out

    def _queue(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        physical = self._autoname(name, inputs)
        if inputs.get("fifoQueue") and not physical.endswith(".fifo"):
            physical += ".fifo"
        attributes: Any = {
            attr: _attr(inputs[key]) for key, attr in _QUEUE_ATTRIBUTES.items() if key in inputs
        }
        url = self._sqs().create_queue(QueueName=physical, Attributes=attributes)["QueueUrl"]
        arn = self._sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, {"name": physical, "url": url, "arn": arn["Attributes"]["QueueArn"]}

    def _redrive(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        url = str(inputs["queueUrl"])
        self._sqs().set_queue_attributes(
            QueueUrl=url, Attributes={"RedrivePolicy": _attr(inputs["redrivePolicy"])}
        )
        return url, {}

    def _secret(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        physical = self._autoname(name, inputs)
        request: dict[str, Any] = {"Name": physical}
        if inputs.get("description"):
            request["Description"] = inputs["description"]
        arn = self._secrets().create_secret(**request)["ARN"]
        return arn, {"name": physical, "arn": arn}

    def _secret_version(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        secret_id = str(inputs["secretId"])
        request: dict[str, Any] = {"SecretId": secret_id}
        if "secretString" in inputs:
            request["SecretString"] = inputs["secretString"]
        else:
            request["SecretBinary"] = inputs.get("secretBinary", "")
        answer = self._secrets().put_secret_value(**request)
        version = answer["VersionId"]
        return f"{secret_id}|{version}", {
            "arn": answer["ARN"],
            "secretArn": answer["ARN"],
            "versionId": version,
            "versionStages": ["AWSCURRENT"],
        }

    def _parameter(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        physical = self._autoname(name, inputs)
        self._ssm().put_parameter(
            Name=physical,
            Value=str(inputs.get("value", inputs.get("insecureValue", ""))),
            Type=inputs.get("type") or "String",
            Overwrite=True,
        )
        arn = self._arn("ssm", f"parameter/{physical.lstrip('/')}")
        return physical, {"name": physical, "arn": arn, "version": 1}

    def _topic(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        physical = self._autoname(name, inputs)
        if inputs.get("fifoTopic") and not physical.endswith(".fifo"):
            physical += ".fifo"
        arn = self._sns().create_topic(Name=physical)["TopicArn"]
        return arn, {"name": physical, "arn": arn}

    def _subscription(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        attributes = {}
        if inputs.get("filterPolicy"):
            attributes["FilterPolicy"] = _attr(inputs["filterPolicy"])
        if inputs.get("filterPolicyScope"):
            attributes["FilterPolicyScope"] = str(inputs["filterPolicyScope"])
        if inputs.get("rawMessageDelivery"):
            attributes["RawMessageDelivery"] = "true"
        arn = self._sns().subscribe(
            TopicArn=inputs["topic"],
            Protocol=inputs["protocol"],
            Endpoint=inputs["endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return arn, {"arn": arn}

    def _metric_alarm(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        physical = self._autoname(name, inputs)
        arn = self._arn("cloudwatch", f"alarm:{physical}")
        definition = AlarmDefinition.model_validate({**inputs, "name": physical, "arn": arn})
        cloudwatch = self._client("cloudwatch")
        cloudwatch.put_metric_alarm(**definition.put_request())
        # moto starts alarms in OK; CloudWatch starts them in INSUFFICIENT_DATA.
        cloudwatch.set_alarm_state(
            AlarmName=physical, StateValue="INSUFFICIENT_DATA", StateReason=INITIAL_REASON
        )
        return physical, {"name": physical, "arn": arn}

    def _dashboard(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        physical = str(inputs.get("dashboardName") or self._autoname(name, inputs))
        body = str(inputs.get("dashboardBody") or "{}")
        self._client("cloudwatch").put_dashboard(DashboardName=physical, DashboardBody=body)
        arn = f"arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/{physical}"
        return physical, {"dashboardName": physical, "dashboardArn": arn, "dashboardBody": body}

    def _query_definition(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # Saved with the deployment; `localcloud insights` runs it over the local logs.
        query_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self._stack}/{name}"))
        return query_id, {"queryDefinitionId": query_id}

    # -- Lambda ---------------------------------------------------------------------------

    def _function(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        physical = self._autoname(name, inputs)
        arn = self._arn("lambda", f"function:{physical}")
        invoke = f"arn:aws:apigateway:{self._region}{_INVOKE_PREFIX}{arn}/invocations"
        return physical, {
            "name": physical,
            "arn": arn,
            "invokeArn": invoke,
            "qualifiedArn": f"{arn}:$LATEST",
            "qualifiedInvokeArn": invoke.replace(arn, f"{arn}:$LATEST"),
            "version": "$LATEST",
            "lastModified": _now(),
        }

    def _mapping(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        mapping = str(uuid.UUID(hashlib.md5(f"{self._stack}/{name}".encode()).hexdigest()))  # noqa: S324
        function = str(inputs.get("functionName", ""))
        if not function.startswith("arn:"):
            function = self._arn("lambda", f"function:{function}")
        return mapping, {"uuid": mapping, "functionArn": function, "state": "Enabled"}

    # -- API Gateway v2 (HTTP) ------------------------------------------------------------

    def _http_api(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        api = _short_id(f"{self._stack}/{name}", 10)
        base = self._gateway
        if str(inputs.get("protocolType", "HTTP")).upper() == "WEBSOCKET":
            # ws://: the program appends the stage to make its `ws_url`, as with wss:// on AWS.
            base = "ws://" + base.removeprefix("http://")
            with self._lock:
                self._ws_apis.add(api)
        return api, {
            "name": self._autoname(name, inputs),
            "apiEndpoint": f"{base}/{api}",
            "executionArn": self._arn("execute-api", api),
            "arn": f"arn:aws:apigateway:{self._region}::/apis/{api}",
        }

    def _v2_child(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return _short_id(f"{self._stack}/{name}", 7), {}

    def _http_stage(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        api = str(inputs["apiId"])
        stage = str(inputs["name"])
        path = "" if stage == "$default" else stage
        base = self._gateway
        with self._lock:
            if api in self._ws_apis:
                base = "ws://" + base.removeprefix("http://")
        return stage, {
            "invokeUrl": f"{base}/{api}/{path}",
            "executionArn": self._arn("execute-api", f"{api}/{stage}"),
            "arn": f"arn:aws:apigateway:{self._region}::/apis/{api}/stages/{stage}",
        }

    # -- API Gateway (REST) ---------------------------------------------------------------

    def _rest_api(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        api = _short_id(f"{self._stack}/{name}", 10)
        root = _short_id(f"{self._stack}/{name}/root", 10)
        with self._lock:
            self._rest_paths[root] = "/"
        return api, {
            "name": self._autoname(name, inputs),
            "rootResourceId": root,
            "executionArn": self._arn("execute-api", api),
            "arn": f"arn:aws:apigateway:{self._region}::/restapis/{api}",
            "createdDate": _now(),
        }

    def _rest_resource(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        rid = _short_id(f"{self._stack}/{name}", 6)
        with self._lock:
            parent = self._rest_paths.get(str(inputs["parentId"]), "/")
            path = f"{parent.rstrip('/')}/{inputs['pathPart']}"
            self._rest_paths[rid] = path
        return rid, {"path": path}

    def _rest_child(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return _short_id(f"{self._stack}/{name}", 6), {}

    def _rest_stage(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        api = str(inputs["restApi"])
        stage = str(inputs["stageName"])
        return f"ags-{api}-{stage}", {
            "invokeUrl": f"{self._gateway}/{api}/{stage}",
            "executionArn": self._arn("execute-api", f"{api}/{stage}"),
            "arn": f"arn:aws:apigateway:{self._region}::/restapis/{api}/stages/{stage}",
        }

    def _api_key(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        key = _short_id(f"{self._stack}/{name}", 10)
        value = inputs.get("value") or _password({"length": 40, "special": False})
        return key, {
            "name": self._autoname(name, inputs),
            "value": value,
            "arn": f"arn:aws:apigateway:{self._region}::/apikeys/{key}",
            "createdDate": _now(),
        }

    def _usage_plan_key(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return str(inputs["keyId"]), {}

    # -- random ---------------------------------------------------------------------------

    def _random_text(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "none", {"result": _password(inputs)}

    def _random_id(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raw = secrets.token_bytes(int(inputs.get("byteLength", 8)))
        b64 = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        prefix = str(inputs.get("prefix") or "")
        return b64, {
            "hex": prefix + raw.hex(),
            "b64Url": prefix + b64,
            "b64Std": prefix + base64.b64encode(raw).decode(),
            "dec": prefix + str(int.from_bytes(raw, "big")),
        }

    def _random_uuid(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        value = str(uuid.uuid4())
        return value, {"result": value}


def _index(gsi: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    keys = [{"AttributeName": gsi["hashKey"], "KeyType": "HASH"}]
    if gsi.get("rangeKey"):
        keys.append({"AttributeName": gsi["rangeKey"], "KeyType": "RANGE"})
    projection: dict[str, Any] = {"ProjectionType": gsi.get("projectionType") or "ALL"}
    if gsi.get("nonKeyAttributes"):
        projection["NonKeyAttributes"] = list(gsi["nonKeyAttributes"])
    index: dict[str, Any] = {"IndexName": gsi["name"], "KeySchema": keys, "Projection": projection}
    if request["BillingMode"] == "PROVISIONED":
        index["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(gsi.get("readCapacity") or 1),
            "WriteCapacityUnits": int(gsi.get("writeCapacity") or 1),
        }
    return index


def _attr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _now() -> str:
    return datetime.now(UTC).isoformat()


_QUEUE_ATTRIBUTES: Final = {
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "delaySeconds": "DelaySeconds",
    "maxMessageSize": "MaximumMessageSize",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "redrivePolicy": "RedrivePolicy",
    "redriveAllowPolicy": "RedriveAllowPolicy",
    "fifoQueue": "FifoQueue",
    "contentBasedDeduplication": "ContentBasedDeduplication",
}

_Creator = Callable[[LocalProvider, str, dict[str, Any]], tuple[str, dict[str, Any]]]
_CREATORS: Final[dict[str, _Creator]] = {
    "aws:dynamodb/table:Table": LocalProvider._table,
    "aws:sqs/queue:Queue": LocalProvider._queue,
    "aws:sqs/redrivePolicy:RedrivePolicy": LocalProvider._redrive,
    "aws:secretsmanager/secret:Secret": LocalProvider._secret,
    "aws:secretsmanager/secretVersion:SecretVersion": LocalProvider._secret_version,
    "aws:ssm/parameter:Parameter": LocalProvider._parameter,
    "aws:sns/topic:Topic": LocalProvider._topic,
    "aws:sns/topicSubscription:TopicSubscription": LocalProvider._subscription,
    "aws:cloudwatch/metricAlarm:MetricAlarm": LocalProvider._metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": LocalProvider._dashboard,
    "aws:cloudwatch/queryDefinition:QueryDefinition": LocalProvider._query_definition,
    "aws:lambda/function:Function": LocalProvider._function,
    "aws:lambda/eventSourceMapping:EventSourceMapping": LocalProvider._mapping,
    "aws:apigatewayv2/api:Api": LocalProvider._http_api,
    "aws:apigatewayv2/integration:Integration": LocalProvider._v2_child,
    "aws:apigatewayv2/authorizer:Authorizer": LocalProvider._v2_child,
    "aws:apigatewayv2/route:Route": LocalProvider._v2_child,
    "aws:apigatewayv2/stage:Stage": LocalProvider._http_stage,
    "aws:apigatewayv2/routeResponse:RouteResponse": LocalProvider._v2_child,
    "aws:apigateway/restApi:RestApi": LocalProvider._rest_api,
    "aws:apigateway/resource:Resource": LocalProvider._rest_resource,
    "aws:apigateway/method:Method": LocalProvider._rest_child,
    "aws:apigateway/integration:Integration": LocalProvider._rest_child,
    "aws:apigateway/stage:Stage": LocalProvider._rest_stage,
    "aws:apigateway/methodSettings:MethodSettings": LocalProvider._rest_child,
    "aws:apigateway/usagePlan:UsagePlan": LocalProvider._rest_child,
    "aws:apigateway/apiKey:ApiKey": LocalProvider._api_key,
    "aws:apigateway/usagePlanKey:UsagePlanKey": LocalProvider._usage_plan_key,
    "random:index/randomPassword:RandomPassword": LocalProvider._random_text,
    "random:index/randomString:RandomString": LocalProvider._random_text,
    "random:index/randomId:RandomId": LocalProvider._random_id,
    "random:index/randomUuid:RandomUuid": LocalProvider._random_uuid,
}
assert set(_CREATORS) == set(EMULATED), "every emulated type needs a creator"
