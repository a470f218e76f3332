"""`DashboardSite`: the live dashboard page in a private S3 bucket behind CloudFront.

See docs/architecture.md (The paths on AWS) and docs/fanout.md.

The bucket blocks every form of public access; CloudFront reads it through an Origin Access
Control, and the bucket policy lets only this distribution's service principal read objects.
The page's files are uploaded one object each, with their content type, from `dashboard/`.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pulumi
from pulumi_aws import cloudfront

from infra.awss3 import s3
from infra.config import StackConfig

__all__ = ["DASHBOARD_DIR", "DashboardSite", "DashboardSiteArgs", "site_files"]

DASHBOARD_DIR: Final = Path(__file__).resolve().parent.parent / "dashboard"
CACHING_OPTIMIZED: Final = "658327ea-f89d-4fab-a63d-7e88639e58f6"
"""AWS's managed cache policy `Managed-CachingOptimized`."""
_SKIP: Final = frozenset({".DS_Store"})


def site_files(root: Path = DASHBOARD_DIR) -> list[Path]:
    """The files of the page, sorted, relative to `root` (tests and docs stay out)."""
    if not root.is_dir():
        return []
    return sorted(
        p.relative_to(root)
        for p in root.rglob("*")
        if p.is_file() and p.name not in _SKIP and not p.name.endswith((".md", ".py"))
    )


@dataclass(frozen=True)
class DashboardSiteArgs:
    """What the site needs: the stack config and the WebSocket URL the page connects to."""

    config: StackConfig
    ws_url: pulumi.Input[str]
    root: Path = DASHBOARD_DIR


class DashboardSite(pulumi.ComponentResource):
    """Private bucket + CloudFront distribution serving `dashboard/`."""

    url: pulumi.Output[str]
    """The page's HTTPS URL, with the WebSocket URL in its query (the token is typed in)."""
    bucket_name: pulumi.Output[str]
    distribution_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DashboardSiteArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("marketstream:index:DashboardSite", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = s3.Bucket(
            f"{name}-bucket", force_destroy=not args.config.deletion_protection, opts=child
        )
        block = s3.BucketPublicAccessBlock(
            f"{name}-private",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},  # ACLs off: the policy decides
            opts=child,
        )
        for relative in site_files(args.root):
            content_type = mimetypes.guess_type(relative.name)[0] or "application/octet-stream"
            s3.BucketObjectv2(
                f"{name}-file-{relative.as_posix().replace('/', '-')}",
                bucket=bucket.id,
                key=relative.as_posix(),
                source=pulumi.FileAsset(str(args.root / relative)),
                content_type=content_type,
                opts=child,
            )
        oac = cloudfront.OriginAccessControl(
            f"{name}-oac",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        origin_id = "dashboard-bucket"
        distribution = cloudfront.Distribution(
            f"{name}-cdn",
            enabled=True,
            comment=f"MarketStream {pulumi.get_stack()} live dashboard",
            default_root_object="index.html",
            price_class="PriceClass_100",
            origins=[
                {
                    "domain_name": bucket.bucket_regional_domain_name,
                    "origin_id": origin_id,
                    "origin_access_control_id": oac.id,
                }
            ],
            default_cache_behavior={
                "target_origin_id": origin_id,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_OPTIMIZED,
                "compress": True,
            },
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={"cloudfront_default_certificate": True},
            opts=child,
        )
        policy = pulumi.Output.all(bucket.arn, distribution.arn).apply(
            lambda arns: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "CloudFrontReadsThroughOAC",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudfront.amazonaws.com"},
                            "Action": "s3:GetObject",
                            "Resource": f"{arns[0]}/*",
                            "Condition": {"StringEquals": {"AWS:SourceArn": arns[1]}},
                        }
                    ],
                }
            )
        )
        # After the public access block, so the policy is never briefly evaluated without it.
        s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        self.url = pulumi.Output.all(distribution.domain_name, args.ws_url).apply(
            lambda parts: f"https://{parts[0]}/index.html?ws={parts[1]}"
        )
        self.bucket_name = bucket.bucket
        self.distribution_arn = distribution.arn
        self.register_outputs(
            {"url": self.url, "bucket_name": bucket.bucket, "distribution_arn": distribution.arn}
        )
