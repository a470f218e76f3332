"""`pulumi_aws.s3`, without the DeprecationWarnings its modules emit on import.

They come from the `*V2` resource classes this project never uses (see `infra/awslambda.py` for
why the filter is process-wide but scoped to that package's modules).
"""

import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws\.s3")

from pulumi_aws import s3  # noqa: E402  (the filter must be in place first)

__all__ = ["s3"]
