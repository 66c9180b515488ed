"""The AWS limits the app's templates must stay under, and worst-case estimates of the
values that grow with the config (no CDK: the config checks these before anything is built).

Where each limit comes from (checked in the AWS documentation, and in botocore's service
models where the model carries the constraint):

* CloudFormation (User Guide, "Understand CloudFormation quotas"): 500 resources, 200
  outputs, 200 parameters and 200 mappings per template; a template body in S3 of at most
  1 MB; a description of at most 1,024 bytes.
* EventBridge: an event pattern of at most 4,096 characters (``PutRule``'s ``EventPattern``,
  max length 4096 in botocore's ``events`` model).
* Lambda (Lambda quotas): the environment variables of a function, 4 KB in aggregate.
* IAM (IAM and STS quotas): a managed policy of at most 6,144 characters (white space not
  counted); CDK moves what a role's inline policy cannot hold into such managed policies
  (``OverflowPolicyN``), a statement at a time, so one statement must fit in 6,144.
* ECS (ECS service quotas): 5,000 services per cluster; the estate builds one cluster.

Values that are CDK tokens at synth (partition, region, account) are measured at their
longest: ``aws-us-gov`` (10), a region name of 16 (the longest today is 14), 12 digits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from autopilot import contract

MAX_RESOURCES = 500
MAX_OUTPUTS = 200
MAX_TEMPLATE_BYTES = 1_048_576
MAX_DESCRIPTION_BYTES = 1024
MAX_EVENT_PATTERN = 4096
MAX_LAMBDA_ENVIRONMENT = 4096
MAX_MANAGED_POLICY = 6144
MAX_SERVICES_PER_CLUSTER = 5000

#: The longest values the pseudo parameters can take at deploy time.
WORST_PARTITION = "p" * 10
WORST_REGION = "r" * 16
WORST_ACCOUNT = "0" * 12

#: What a function's environment holds beside CLUSTER_ARNS and REPOSITORIES (names and
#: values of the other settings, the ledger, the topic ARN, the library switch, the
#: reconciler's protective tag prefix at its longest, the admission hook's function and
#: role ARNs), rounded up.
OTHER_ENVIRONMENT = 1300
#: A policy statement's own characters beside its resource list and condition values.
STATEMENT_OVERHEAD = 400


def worst_prefix(service: str) -> str:
    """``arn:<partition>:<service>:<region>:<account>`` at its longest."""
    return f"arn:{WORST_PARTITION}:{service}:{WORST_REGION}:{WORST_ACCOUNT}"


def worst_cluster_arn(name: str, arn: str | None) -> str:
    return arn or f"{worst_prefix('ecs')}:cluster/{name}"


def compact(value: Any) -> int:
    """Characters of ``value`` as compact JSON (how EventBridge and IAM count them)."""
    return len(json.dumps(value, separators=(",", ":")))


def rule_patterns(
    cluster_arns: list[str], repositories: contract.RepositoryFilter, alarm_prefix: str
) -> dict[str, dict[str, Any]]:
    """Every pattern the control plane's rules use, at their longest."""
    repo_arn_prefix = f"{worst_prefix('ecr')}:repository/"
    where = (WORST_ACCOUNT, WORST_REGION)
    return {
        "ecr-image-action": contract.ecr_image_action_pattern(*where, repositories),
        "ecr-image-scan": contract.ecr_image_scan_pattern(*where, repositories),
        "inspector2-scan": contract.inspector2_scan_pattern(*where, repositories, repo_arn_prefix),
        "inspector2-finding": contract.inspector2_finding_pattern(
            *where, repositories, repo_arn_prefix
        ),
        "ecs-deployment": contract.ecs_deployment_pattern(*where, cluster_arns),
        "ecs-hook": contract.ecs_hook_pattern(*where, cluster_arns),
        "ecs-task": contract.ecs_task_pattern(*where, cluster_arns),
        "ecs-service-action": contract.ecs_placement_failure_pattern(*where, cluster_arns),
        "scaling-alarms": contract.alarm_pattern(*where, alarm_prefix),
        "spot-warning": contract.spot_warning_pattern(*where),
        "reconcile-shard": contract.reconcile_shard_pattern(*where),
    }


def environment_size(cluster_arns: list[str], repositories: contract.RepositoryFilter) -> int:
    """The aggregate size of a function's environment, at its longest."""
    return (
        len("CLUSTER_ARNS")
        + len(",".join(cluster_arns))
        + len("REPOSITORIES")
        + len(str(repositories))
        + OTHER_ENVIRONMENT
    )


def _listed(values: Iterable[str]) -> int:
    return sum(len(v) + 3 for v in values)  # quotes and a comma each


def largest_statement(
    cluster_arns: list[str], repositories: contract.RepositoryFilter
) -> tuple[str, int]:
    """(what, characters) of the largest statement the functions' policies hold, at its
    longest: the per-cluster statements list every cluster (StopTask lists them twice: its
    task ARNs and its ``ecs:cluster`` condition), the ECR one every repository, UpdateService
    the clusters' services and the repository tag values."""
    clusters = [a.rpartition(":cluster/") for a in cluster_arns]
    tasks = [f"{p}:task/{n}/*" for p, _, n in clusters]
    services = [f"{p}:service/{n}/*" for p, _, n in clusters]
    repo_arns = [f"{worst_prefix('ecr')}:repository/{n}" for n in repositories.names] + [
        f"{worst_prefix('ecr')}:repository/{p}*" for p in repositories.prefixes
    ]
    tag_values = list(repositories.names) + [f"{p}*" for p in repositories.prefixes]
    candidates = {
        "ecs:StopTask (every cluster's tasks and ARN)": _listed(tasks) + _listed(cluster_arns),
        "ecs:UpdateService (every cluster's services, every repository tag value)": _listed(
            services
        )
        + _listed(tag_values),
        "ecr:DescribeImages (every repository)": _listed(repo_arns),
    }
    what = max(candidates, key=lambda k: candidates[k])
    return what, candidates[what] + STATEMENT_OVERHEAD
