"""GIVEN each stack under the mocks WHEN the dashboard site is declared THEN it is private and
served only through this stack's CloudFront distribution."""

from __future__ import annotations

import json
from pathlib import Path

from infra.dashboard import DASHBOARD_DIR, site_files
from tests.infra.pulumi_mocks import StackRun

BUCKET = "aws:s3/bucket:Bucket"
CDN = "aws:cloudfront/distribution:Distribution"


def test_bucket_blocks_all_public_access_and_acls(stack_run: StackRun) -> None:
    block = stack_run.one(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "dashboard-private"
    )
    bucket = stack_run.one(BUCKET, "dashboard-bucket")
    assert block.inputs["bucket"] == bucket.id
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs[flag] is True, flag
    ownership = stack_run.one(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "dashboard-ownership"
    )
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    # Prod keeps its bucket (and objects) when the stack is destroyed by mistake.
    assert bucket.inputs["forceDestroy"] is (stack_run.stack != "prod")


def test_distribution_reads_the_bucket_through_oac_over_https_only(stack_run: StackRun) -> None:
    cdn = stack_run.one(CDN, "dashboard-cdn")
    oac = stack_run.one("aws:cloudfront/originAccessControl:OriginAccessControl", "dashboard-oac")
    bucket = stack_run.one(BUCKET, "dashboard-bucket")
    assert oac.inputs["signingBehavior"] == "always"
    assert oac.inputs["signingProtocol"] == "sigv4"
    [origin] = cdn.inputs["origins"]
    assert origin["domainName"] == bucket.outputs["bucketRegionalDomainName"]
    assert origin["originAccessControlId"] == oac.id
    behavior = cdn.inputs["defaultCacheBehavior"]
    assert behavior["viewerProtocolPolicy"] == "redirect-to-https"
    assert sorted(behavior["allowedMethods"]) == ["GET", "HEAD"]
    assert cdn.inputs["defaultRootObject"] == "index.html"


def test_only_this_distribution_may_read_objects(stack_run: StackRun) -> None:
    policy = stack_run.one("aws:s3/bucketPolicy:BucketPolicy", "dashboard-policy")
    bucket = stack_run.one(BUCKET, "dashboard-bucket")
    cdn = stack_run.one(CDN, "dashboard-cdn")
    [statement] = json.loads(policy.inputs["policy"])["Statement"]
    assert statement == {
        "Sid": "CloudFrontReadsThroughOAC",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"{bucket.outputs['arn']}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": cdn.outputs["arn"]}},
    }


def test_every_page_file_is_uploaded_with_its_content_type(stack_run: StackRun) -> None:
    objects = {
        r.inputs["key"]: r.inputs["contentType"]
        for r in stack_run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    }
    assert set(objects) == {p.as_posix() for p in site_files()}
    if "index.html" in objects:
        assert objects["index.html"] == "text/html"


def test_site_files_leave_out_docs_and_code(tmp_path: Path) -> None:
    for name in ("index.html", "app.js", "vendor/lib.css", "README.md", "build.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [p.as_posix() for p in site_files(tmp_path)] == [
        "app.js",
        "index.html",
        "vendor/lib.css",
    ]
    assert site_files(tmp_path / "missing") == []
    assert DASHBOARD_DIR.name == "dashboard"
