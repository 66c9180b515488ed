"""One settings model per function, read from the environment through one cached function.

The CDK app sets exactly these variables on each function (an infra test compares the
synthesized environment with the fields), so every field here has a variable there.
``autopilot.schema`` models (no pydantic: ``autopilot/schema.py`` says why); a variable's
value is text, read as the field's type (``"90"`` as 90).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Annotated, Literal, TypeVar

from autopilot import contract
from autopilot.schema import After, Field, Model, check

_CLUSTER_ARN = r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255}"
_CLUSTER_ARNS = rf"^{_CLUSTER_ARN}(,{_CLUSTER_ARN})*$"
_CLUSTER_ARNS_OR_NONE = rf"^({_CLUSTER_ARN}(,{_CLUSTER_ARN})*)?$"
_FUNCTION_ARN = r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}"
_FUNCTION_ARN_OR_NONE = rf"^({_FUNCTION_ARN}(:[A-Za-z0-9_$-]+)?)?$"
_ROLE_ARN_OR_NONE = r"^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512})?$"


def _repositories(value: str) -> str:
    contract.RepositoryFilter.parse(value)
    return value


class FunctionSettings(Model):
    """What every function reads: who it is, the ledger, the notices, what it manages (the
    clusters, the repositories), the lease.

    A function builds the validator of its own settings model only, on its first
    ``get_settings``, not the other functions' models it imports with this module."""

    powertools_service_name: str = Field(min_length=1)
    powertools_metrics_namespace: str = Field(min_length=1)
    ledger_table: str = Field(min_length=1)
    notices_topic_arn: str = Field(min_length=1)
    #: The managed clusters' ARNs, comma-separated.
    cluster_arns: str = Field(min_length=1, pattern=_CLUSTER_ARNS)
    #: The managed repositories: ``*`` or ``name:<repo>`` / ``prefix:<start>`` items.
    repositories: Annotated[str, After(_repositories)] = Field(
        default=contract.ALL_REPOSITORIES, min_length=1
    )
    #: A change to a service takes its lease for at most this long (a killed invocation's
    #: lease expires): the CDK app sets the function timeout plus a margin (60 + 30 s).
    lease_seconds: int = Field(default=90, ge=10, le=3600)

    @property
    def clusters(self) -> tuple[str, ...]:
        return contract.split_list(self.cluster_arns)

    @property
    def account(self) -> str:
        """The managed account: the clusters' (the config holds them to one account)."""
        return self.clusters[0].split(":")[4]

    def foreign(self, account: str) -> str | None:
        """Why an event of ``account`` is not this control plane's to act on, or None.

        The rules match the managed account only; an event of another one came some other
        way (a direct invoke, a bus that forwards) and is recorded, never acted on."""
        if account == self.account:
            return None
        return f"an event of account {account}: the control plane manages account {self.account}"

    @property
    def repository_filter(self) -> contract.RepositoryFilter:
        return contract.RepositoryFilter.parse(self.repositories)


class ImageEventsSettings(FunctionSettings):
    """image-events: scan-gated redeploys."""

    #: A pending manual approval expires after this many hours (then it is recorded "expired").
    approval_ttl_hours: int = Field(default=24, ge=1, le=720)
    #: The config's floor under every service's ``autopilot:scan`` tag: the gate is at least
    #: this strict whatever the tag says (``off``: no floor).
    min_scan_gate: Literal["critical", "high", "off"] = "off"
    #: The managed clusters (ARNs, comma-separated; empty: none) whose services always need a
    #: manual approval, whatever their ``autopilot:approval`` tag says.
    manual_approval_cluster_arns: str = Field(default="", pattern=_CLUSTER_ARNS_OR_NONE)
    #: How long autopilot's PAUSE hook (``autopilot:approval=manual-traffic``) waits for
    #: ``autopilot approve`` before ECS rolls the deployment back (ECS: 1..20160 minutes).
    pause_timeout_minutes: int = Field(
        default=contract.DEFAULT_PAUSE_TIMEOUT_MINUTES, ge=1, le=20160
    )
    #: The reserved tag prefix of the protective tags (the config's ``retention.prefix``,
    #: which the CDK app always sets); empty: the sweep keeps no protective tags. A push of
    #: a tag under it is the reconciler moving a protective tag, never a release.
    retention_prefix: str = Field(default="", pattern=r"^([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$")

    #: The admission hook a deploy puts on a service that has none (``logic.rollout``): the
    #: admission function's ARN and the role ECS assumes to invoke it; both empty: none.
    admission_function_arn: str = Field(default="", pattern=_FUNCTION_ARN_OR_NONE)
    admission_role_arn: str = Field(default="", pattern=_ROLE_ARN_OR_NONE)

    @property
    def manual_approval_clusters(self) -> tuple[str, ...]:
        return contract.split_list(self.manual_approval_cluster_arns)

    @check
    def _admission_hook_is_whole(self) -> None:
        if bool(self.admission_function_arn) != bool(self.admission_role_arn):
            raise ValueError("admission_function_arn and admission_role_arn go together")

    @check
    def _approval_clusters_are_managed(self) -> None:
        unmanaged = set(self.manual_approval_clusters) - set(self.clusters)
        if unmanaged:
            raise ValueError(
                f"manual_approval_cluster_arns names clusters not managed: {sorted(unmanaged)}"
            )


class ReconcilerSettings(ImageEventsSettings):
    """reconciler: the scheduled sweep, which deploys through image-events' flow and so reads
    its settings (floors, approval expiry), the size of a shard, and keeps the protective
    tags (``logic.retention``)."""

    #: A tick that finds more tracked services than this does not sweep them itself: it
    #: puts one ``Reconcile Shard`` event per this many services on the bus (fan-out).
    shard_size: int = Field(default=200, ge=1, le=contract.MAX_SHARD_SIZE)
    #: The fraction of each ECS and ECR API rate limit the sweep takes (``logic.pacing``);
    #: the shards of a fanned-out sweep divide it among them.
    api_share: float = Field(default=0.5, gt=0, le=1)
    #: How many known good digests of each service its tags keep (``retention.keep_known_good``).
    retention_keep: int = Field(default=3, ge=1, le=20)


class AdmissionSettings(FunctionSettings):
    """admission: the Lambda lifecycle hook (PRE_SCALE_UP) that fails a deployment of a
    quarantined or gate-failing digest (``flows.admission``)."""

    #: The config's floor under every service's ``autopilot:scan`` tag, as image-events has it.
    min_scan_gate: Literal["critical", "high", "off"] = "off"


class DeploymentEventsSettings(FunctionSettings):
    """deployment-events: last known good, rollback, quarantine."""


class TaskEventsSettings(FunctionSettings):
    """task-events: zone balance and crash loops (whose rollbacks take the service's lease)."""

    #: At most one zone-balance evaluation per service per window (a conditional write).
    evaluation_window_seconds: int = Field(default=60, ge=1, le=3600)
    #: At most one move (task stop or capacity raise) per service per cooldown.
    move_cooldown_seconds: int = Field(default=300, ge=0, le=86_400)
    #: A crash loop: N crashes of one task definition ...
    crash_loop_threshold: int = Field(default=3, ge=1, le=1000)
    #: ... within M minutes.
    crash_loop_window_minutes: int = Field(default=10, ge=1, le=1440)


class CapacityEventsSettings(FunctionSettings):
    """capacity-events: alarm-driven scaling, placement failures, Fargate Spot fallback."""

    #: Cooldown of a placement-failure or Spot-warning capacity raise, per ASG.
    capacity_cooldown_seconds: int = Field(default=300, ge=0, le=86_400)
    #: A Fargate Spot fallback is undone on a steady state this long after the last failure.
    spot_calm_seconds: int = Field(default=1800, ge=0, le=604_800)


S = TypeVar("S", bound=FunctionSettings)


@cache
def get_settings(model: type[S]) -> S:
    """Read ``model`` from the environment once per process.

    Tests (and the sandbox, which changes the environment) call ``get_settings.cache_clear()``.
    """
    return model.model_validate({k.lower(): v for k, v in os.environ.items()})


def env_var_names(model: type[FunctionSettings]) -> set[str]:
    """The environment variable names a settings model reads."""
    return {name.upper() for name in model.model_fields}
