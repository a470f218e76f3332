"""`pulumi_aws.lambda_`, without the DeprecationWarning its modules emit.

The warning comes from a deprecated resource class this project never uses. It fires on import
and again when the SDK loads every module of the package to register resource types, so the
filter is installed process-wide (for that package's modules only, nothing else is hidden).
"""

import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws\.lambda_")

from pulumi_aws import lambda_  # noqa: E402  (the filter must be in place first)

__all__ = ["lambda_"]
