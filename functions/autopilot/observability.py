"""The one place that holds the Powertools logger, tracer and metrics.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (set by the CDK app); Tracer turns itself off outside Lambda.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()

__all__ = ["logger", "metrics", "tracer"]
