"""AWS as the mock runtime sees it: the outputs AWS computes, derived from names alone.

`MockAws` is the `infra.mockrun.Provider` of every run that needs no local cloud (the infra tests,
`docs/infra.md`, the offline preview): ARNs, URLs and ids follow AWS's formats in one account and
region, and depend only on what the program declared, so two runs of the same program give the
same values, and the IAM walker of the tests can tell this stack's ARNs from others.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

__all__ = ["ACCOUNT", "REGION", "MockAws"]

REGION: Final = "us-east-1"
ACCOUNT: Final = "123456789012"


def _computed(
    typ: str, name: str, inputs: dict[str, Any], logical: str, rid: str
) -> dict[str, Any]:
    """The outputs AWS computes for the resource types this program declares."""
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    match typ:
        case "aws:dynamodb/table:Table":
            table = arn.format("dynamodb", f"table/{name}")
            return {
                "name": name,
                "arn": table,
                "streamArn": f"{table}/stream/2025-01-01T00:00:00.000",
            }
        case "aws:sqs/queue:Queue":
            return {
                "name": name,
                "arn": arn.format("sqs", name),
                "url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
            }
        case "aws:cloudwatch/logGroup:LogGroup":
            return {"name": name, "arn": arn.format("logs", f"log-group:{name}")}
        case "aws:iam/role:Role":
            return {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"}
        case "aws:lambda/function:Function":
            function = arn.format("lambda", f"function:{name}")
            path = f"path/2015-03-31/functions/{function}/invocations"
            invoke = f"arn:aws:apigateway:{REGION}:lambda:{path}"
            return {"name": name, "arn": function, "invokeArn": invoke}
        case "aws:lambda/layerVersion:LayerVersion":
            return {"arn": arn.format("lambda", f"layer:{inputs['layerName']}:1")}
        case "aws:secretsmanager/secret:Secret":
            return {"name": name, "arn": arn.format("secretsmanager", f"secret:{name}-AbCdEf")}
        case "aws:secretsmanager/secretVersion:SecretVersion":
            return {"secretArn": inputs["secretId"], "versionId": "v1"}
        case "aws:apigatewayv2/api:Api":
            scheme = "wss" if inputs.get("protocolType") == "WEBSOCKET" else "https"
            return {
                "name": name,
                "apiEndpoint": f"{scheme}://{rid}.execute-api.{REGION}.amazonaws.com",
                "executionArn": arn.format("execute-api", rid),
                "arn": f"arn:aws:apigateway:{REGION}::/apis/{rid}",
            }
        case "aws:apigateway/restApi:RestApi":
            return {
                "name": name,
                "rootResourceId": f"{rid}-root",
                "executionArn": arn.format("execute-api", rid),
                "arn": f"arn:aws:apigateway:{REGION}::/restapis/{rid}",
            }
        case "aws:apigateway/stage:Stage":
            url = f"https://{inputs['restApi']}.execute-api.{REGION}.amazonaws.com"
            return {"invokeUrl": f"{url}/{inputs['stageName']}"}
        case "aws:sns/topic:Topic":
            return {"name": name, "arn": arn.format("sns", name)}
        case "aws:cloudwatch/metricAlarm:MetricAlarm":
            return {"name": name, "arn": arn.format("cloudwatch", f"alarm:{name}")}
        case "aws:cloudwatch/dashboard:Dashboard":
            dashboard = inputs["dashboardName"]
            return {"dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{dashboard}"}
        case "aws:budgets/budget:Budget":
            return {"arn": f"arn:aws:budgets::{ACCOUNT}:budget/{name}"}
        case "aws:s3/bucket:Bucket":
            return {
                "bucket": name,
                "arn": f"arn:aws:s3:::{name}",
                "bucketRegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
            }
        case "aws:cloudfront/distribution:Distribution":
            return {
                "arn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/{rid}",
                "domainName": f"{rid}.cloudfront.net",
            }
        case "random:index/randomPassword:RandomPassword":
            seed = hashlib.sha256(logical.encode()).hexdigest()
            return {"result": (seed * 4)[: int(inputs["length"])]}
    return {}


class MockAws:
    """A provider that answers like AWS, from names alone."""

    def create(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The id and computed outputs of one resource."""
        physical = str(inputs.get("name") or name)
        # As the AWS provider does: a role's id is its name (role policies refer to it), a
        # secret's id is its ARN; other ids are opaque.
        if typ == "aws:iam/role:Role":
            rid = physical
        elif typ == "aws:secretsmanager/secret:Secret":
            rid = _computed(typ, physical, {}, name, "")["arn"]
        else:
            rid = f"{name}-id"
        return rid, _computed(typ, physical, inputs, name, rid)

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        """Provider functions: the program calls none."""
        return {}
