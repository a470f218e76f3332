"""MarketStream infrastructure: Pulumi components, config, packaging and IAM helpers."""
