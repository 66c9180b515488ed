"""ECS (and the Resource Groups Tagging API): find the services that track a repository,
describe services, tasks, task definitions, the cluster's capacity providers and
container instances, and make the changes (register, update, deregister, stop).

Reads return the plain values of ``domain.service``; nothing outside ``aws/`` sees boto3
shapes. The ``*_params`` builders are the request shapes the flows plan with.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autopilot import contract
from autopilot.aws.translate import translate
from autopilot.domain.service import (
    FARGATE_PROVIDERS,
    CapacityProviderInfo,
    ClusterCapacity,
    ContainerInstanceInfo,
    Deployment,
    DeploymentDetail,
    DeploymentRollback,
    DescribedTask,
    LifecycleHook,
    RevisionImage,
    Service,
    ServiceDeployment,
    ServiceRevision,
    Strategy,
    StrategyItem,
    TaskContainerState,
    TaskInfo,
)
from autopilot.errors import NotFound

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient

DESCRIBE_BATCH = 10  # DescribeServices takes at most 10 services
DESCRIBE_TASKS_BATCH = 100
DESCRIBE_INSTANCES_BATCH = 100
DESCRIBE_DEPLOYMENTS_BATCH = 20  # DescribeServiceDeployments takes at most 20 ARNs
DESCRIBE_REVISIONS_BATCH = 20  # DescribeServiceRevisions takes at most 20 ARNs
LIST_DEPLOYMENTS_PAGE = 100  # ListServiceDeployments' maxResults is 1..100

#: ECS refuses a change to a service's capacity provider strategy without a new deployment
#: ("InvalidParameterException: When switching from launch type to capacity provider
#: strategy on an existing service, or making a change to a capacity provider strategy on a
#: service that is already using one, you must force a new deployment."). The new
#: deployment keeps the task definition; it re-places the tasks under the new strategy.
STRATEGY_CHANGE_FORCES_DEPLOYMENT = True


# -- finding and describing services ------------------------------------------------------
def managed_cluster_of(service_arn: str, clusters: Iterable[str]) -> str | None:
    """The managed cluster (among ``clusters``) a service ARN names, else None.

    Only the long ARN format (``service/<cluster>/<name>``) names its cluster; a short one
    (``service/<name>``, from before 2021) belongs to the only cluster if one is managed.
    """
    parts = service_arn.split(":", 5)
    if len(parts) < 6 or not parts[5].startswith("service/"):
        return None
    path = parts[5].split("/")
    managed = list(clusters)
    if len(path) == 3:
        return next((c for c in managed if c == cluster_arn_of(service_arn)), None)
    return managed[0] if len(managed) == 1 else None


def cluster_arn_of(service_arn: str) -> str:
    """``arn:...:service/<cluster>/<name>`` -> ``arn:...:cluster/<cluster>``."""
    prefix, _, path = service_arn.partition(":service/")
    return f"{prefix}:cluster/{path.split('/')[0]}"


def tagged_service_arns(
    tagging: ResourceGroupsTaggingAPIClient, repository: str | None, clusters: Iterable[str]
) -> dict[str, list[str]]:
    """The managed clusters' services tagged ``autopilot:repository=<repository>`` (None:
    with any repository, as the reconciler sweeps them all), by cluster: one call per 100
    tagged services, whatever the number of untracked services."""
    managed = tuple(clusters)
    found: dict[str, set[str]] = {}
    token = ""
    condition: Any = {"Key": contract.TAG_REPOSITORY}
    if repository is not None:
        condition["Values"] = [repository]
    while True:
        with translate("tag:GetResources"):
            response = tagging.get_resources(
                TagFilters=[condition],
                ResourceTypeFilters=["ecs:service"],
                ResourcesPerPage=100,
                PaginationToken=token,
            )
        for m in response.get("ResourceTagMappingList", []):
            cluster = managed_cluster_of(m["ResourceARN"], managed)
            if cluster is not None:
                found.setdefault(cluster, set()).add(m["ResourceARN"])
        token = response.get("PaginationToken", "")
        if not token:
            return {c: sorted(arns) for c, arns in sorted(found.items())}


def list_service_arns(ecs: ECSClient, cluster_arn: str) -> list[str]:
    """Every service of the cluster (ListServices, 100 per call)."""
    arns: list[str] = []
    token = ""
    while True:
        with translate("ecs:ListServices"):
            if token:
                response = ecs.list_services(cluster=cluster_arn, maxResults=100, nextToken=token)
            else:
                response = ecs.list_services(cluster=cluster_arn, maxResults=100)
        arns.extend(response.get("serviceArns", []))
        token = response.get("nextToken", "")
        if not token:
            return sorted(arns)


def _strategy(raw: Iterable[Any]) -> Strategy:
    return tuple(
        StrategyItem(str(i["capacityProvider"]), int(i.get("weight", 0)), int(i.get("base", 0)))
        for i in raw
        if "capacityProvider" in i
    )


def _service(raw: Any) -> Service:
    config = raw.get("deploymentConfiguration") or {}
    breaker = config.get("deploymentCircuitBreaker") or {}
    alarms = config.get("alarms") or {}
    network = (raw.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    constraints = raw.get("placementConstraints") or []
    return Service(
        arn=raw["serviceArn"],
        name=raw["serviceName"],
        cluster_arn=raw.get("clusterArn", ""),
        task_definition=raw.get("taskDefinition", ""),
        tags={t["key"]: t["value"] for t in raw.get("tags", []) if "key" in t and "value" in t},
        deployments=tuple(
            Deployment(
                id=d.get("id", ""),
                status=d.get("status", ""),
                task_definition=d.get("taskDefinition", ""),
                rollout_state=d.get("rolloutState"),
                rollout_reason=d.get("rolloutStateReason"),
            )
            for d in raw.get("deployments") or []
        ),
        circuit_breaker_rollback=bool(breaker.get("enable") and breaker.get("rollback")),
        status=raw.get("status", ""),
        desired_count=int(raw.get("desiredCount", 0)),
        running_count=int(raw.get("runningCount", 0)),
        pending_count=int(raw.get("pendingCount", 0)),
        launch_type=raw.get("launchType"),
        scheduling_strategy=raw.get("schedulingStrategy", "REPLICA"),
        min_healthy_percent=int(config.get("minimumHealthyPercent", 100)),
        strategy=_strategy(raw.get("capacityProviderStrategy") or []),
        placement_strategy=tuple(
            (str(p.get("type", "")), str(p.get("field", "")))
            for p in raw.get("placementStrategy") or []
        ),
        az_placement_constraint=any(
            "ecs.availability-zone" in str(c.get("expression", "")) for c in constraints
        ),
        subnets=tuple(network.get("subnets") or ()),
        az_rebalancing=raw.get("availabilityZoneRebalancing"),
        deployment_alarms=frozenset(
            alarms.get("alarmNames") or () if alarms.get("enable", True) else ()
        ),
        deployment_controller=str((raw.get("deploymentController") or {}).get("type") or "ECS"),
        deployment_configuration=dict(config),
        alarm_rollback=bool(
            alarms.get("enable")
            and alarms.get("rollback")
            and alarms.get("alarmNames")
            and (not breaker.get("enable") or breaker.get("rollback"))
        ),
        traffic_ready=_traffic_ready(raw.get("loadBalancers") or []),
    )


def _traffic_ready(load_balancers: list[Any]) -> bool:
    """Each load balancer names an alternate target group, a production listener rule and
    a role (``advancedConfiguration``): ECS can shift traffic between the two groups."""
    need = ("alternateTargetGroupArn", "productionListenerRule", "roleArn")
    return bool(load_balancers) and all(
        all((lb.get("advancedConfiguration") or {}).get(k) for k in need) for lb in load_balancers
    )


def describe_services(ecs: ECSClient, cluster_arn: str, services: list[str]) -> list[Service]:
    """The active services among ``services`` (ARNs or names), with their tags, 10 per call."""
    found: list[Service] = []
    for start in range(0, len(services), DESCRIBE_BATCH):
        with translate("ecs:DescribeServices"):
            response = ecs.describe_services(
                cluster=cluster_arn,
                services=services[start : start + DESCRIBE_BATCH],
                include=["TAGS"],
            )
        found.extend(
            _service(s) for s in response.get("services", []) if s.get("status") == "ACTIVE"
        )
    return found


def describe_service(ecs: ECSClient, cluster_arn: str, service: str) -> Service | None:
    """One service (ARN or name) with its tags, or None if it is not active."""
    found = describe_services(ecs, cluster_arn, [service])
    return found[0] if found else None


#: the service deployment states in which ECS is rolling a service out (ListServiceDeployments'
#: ``status`` filter): StopServiceDeployment ROLLBACK moves such a deployment to
#: ROLLBACK_REQUESTED (the ECS Developer Guide, "Stopping Amazon ECS service deployments")
IN_PROGRESS_STATES = ("PENDING", "IN_PROGRESS")


def in_progress_deployments(
    ecs: ECSClient, cluster_arn: str, service_arn: str
) -> list[ServiceDeployment]:
    """The service's service deployments ECS is rolling out now (ListServiceDeployments
    filtered on ``IN_PROGRESS_STATES``: one call, as ECS runs one deployment at a time)."""
    found: list[ServiceDeployment] = []
    token = ""
    while True:
        kwargs: dict[str, Any] = {
            "cluster": cluster_arn,
            "service": service_arn,
            "status": list(IN_PROGRESS_STATES),
        }
        if token:
            kwargs["nextToken"] = token
        with translate("ecs:ListServiceDeployments"):
            response = ecs.list_service_deployments(**kwargs)
        found.extend(
            ServiceDeployment(
                arn=str(d["serviceDeploymentArn"]),
                status=str(d.get("status", "")),
                target_revision=str(d.get("targetServiceRevisionArn", "")),
            )
            for d in response.get("serviceDeployments", [])
            if d.get("serviceDeploymentArn")
        )
        token = response.get("nextToken", "")
        if not token:
            return found


def recent_deployments(
    ecs: ECSClient,
    cluster_arn: str,
    service_arn: str,
    *,
    limit: int | None = 1,
    created_after: datetime | None = None,
    statuses: Iterable[str] = (),
) -> list[str]:
    """The ARNs of the service's ``limit`` (None: all) newest service deployments in
    ``statuses`` (empty: any state), created after ``created_after`` if given
    (ListServiceDeployments' ``status`` and ``createdAt`` filters), newest first: one call
    per page of at most 100, ECS's ``maxResults`` limit."""
    wanted = sorted(set(statuses))
    found: list[str] = []
    token = ""
    while limit is None or len(found) < limit:
        kwargs: dict[str, Any] = {
            "cluster": cluster_arn,
            "service": service_arn,
            "maxResults": LIST_DEPLOYMENTS_PAGE
            if limit is None
            else max(1, min(limit - len(found), LIST_DEPLOYMENTS_PAGE)),
        }
        if created_after is not None:
            kwargs["createdAt"] = {"after": created_after}
        if wanted:
            kwargs["status"] = wanted
        if token:
            kwargs["nextToken"] = token
        with translate("ecs:ListServiceDeployments"):
            response = ecs.list_service_deployments(**kwargs)
        found.extend(
            str(d["serviceDeploymentArn"])
            for d in response.get("serviceDeployments", [])
            if d.get("serviceDeploymentArn")
        )
        token = str(response.get("nextToken") or "")
        if not token:
            break
    return found if limit is None else found[:limit]


def _hook(raw: Any) -> LifecycleHook:
    expires = raw.get("expiresAt")
    return LifecycleHook(
        hook_id=str(raw.get("hookId", "")),
        target_type=str(raw.get("targetType", "")),
        status=str(raw.get("status", "")),
        expires_at=expires if isinstance(expires, datetime) else None,
        timeout_action=str(raw.get("timeoutAction", "")),
        lifecycle_stage=str(raw.get("lifecycleStage", "")),
    )


def _detail(raw: Any) -> DeploymentDetail:
    target = raw.get("targetServiceRevision") or {}
    config = raw.get("deploymentConfiguration") or {}
    alarms = raw.get("alarms") or {}
    started, finished = raw.get("startedAt"), raw.get("finishedAt")
    return DeploymentDetail(
        arn=str(raw["serviceDeploymentArn"]),
        service_arn=str(raw.get("serviceArn", "")),
        status=str(raw.get("status", "")),
        lifecycle_stage=str(raw.get("lifecycleStage", "")),
        strategy=str(config.get("strategy", "")),
        status_reason=str(raw.get("statusReason", "")),
        target_revision=str(target.get("arn", "")),
        requested=int(target.get("requestedTaskCount") or 0),
        running=int(target.get("runningTaskCount") or 0),
        pending=int(target.get("pendingTaskCount") or 0),
        started_at=started if isinstance(started, datetime) else None,
        finished_at=finished if isinstance(finished, datetime) else None,
        hooks=tuple(_hook(h) for h in raw.get("lifecycleHookDetails") or []),
        created_at=_when(raw.get("createdAt")),
        source_revisions=tuple(
            str(r["arn"]) for r in raw.get("sourceServiceRevisions") or [] if r.get("arn")
        ),
        rollback=_rollback(raw.get("rollback")),
        alarm_names=tuple(str(a) for a in alarms.get("alarmNames") or []),
        triggered_alarms=tuple(str(a) for a in alarms.get("triggeredAlarmNames") or []),
    )


def _when(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _rollback(raw: Any) -> DeploymentRollback | None:
    """A ServiceDeployment's ``rollback`` (None when ECS gives none)."""
    if not raw:
        return None
    return DeploymentRollback(
        reason=str(raw.get("reason", "")),
        started_at=_when(raw.get("startedAt")),
        revision=str(raw.get("serviceRevisionArn", "")),
    )


def describe_service_deployments(ecs: ECSClient, arns: list[str]) -> list[DeploymentDetail]:
    """DescribeServiceDeployments: the deployments ECS knows among ``arns`` (at most 20 a
    call, ECS's limit; unknown ARNs, ECS's ``failures``, are left out), in ``arns``' order."""
    found: dict[str, DeploymentDetail] = {}
    for start in range(0, len(arns), DESCRIBE_DEPLOYMENTS_BATCH):
        with translate("ecs:DescribeServiceDeployments"):
            response = ecs.describe_service_deployments(
                serviceDeploymentArns=arns[start : start + DESCRIBE_DEPLOYMENTS_BATCH]
            )
        for raw in response.get("serviceDeployments", []):
            if raw.get("serviceDeploymentArn"):
                detail = _detail(raw)
                found[detail.arn] = detail
    return [found[a] for a in arns if a in found]


def continue_service_deployment(ecs: ECSClient, params: dict[str, Any]) -> dict[str, Any]:
    """ContinueServiceDeployment(serviceDeploymentArn, hookId, action CONTINUE | ROLLBACK)."""
    with translate("ecs:ContinueServiceDeployment"):
        response = ecs.continue_service_deployment(**params)
    return {"serviceDeploymentArn": response.get("serviceDeploymentArn")}


def continue_params(service_deployment_arn: str, hook_id: str, action: str) -> dict[str, Any]:
    """ContinueServiceDeployment's input: go past (CONTINUE) or roll back at (ROLLBACK) a
    pause hook AWAITING_ACTION."""
    return {"serviceDeploymentArn": service_deployment_arn, "hookId": hook_id, "action": action}


def _revision(raw: Any) -> ServiceRevision:
    return ServiceRevision(
        arn=str(raw["serviceRevisionArn"]),
        service_arn=str(raw.get("serviceArn", "")),
        cluster_arn=str(raw.get("clusterArn", "")),
        task_definition=str(raw.get("taskDefinition", "")),
        images=tuple(
            RevisionImage(
                container=str(c.get("containerName", "")),
                image=str(c.get("image", "")),
                digest=c.get("imageDigest") or None,
            )
            for c in raw.get("containerImages") or []
        ),
    )


def describe_service_revision(ecs: ECSClient, revision_arn: str) -> ServiceRevision:
    """One service revision (DescribeServiceRevisions): its service, task definition and the
    digest ECS resolved each container's image to. Raises ``NotFound`` when ECS lists it
    under ``failures`` (or not at all)."""
    with translate("ecs:DescribeServiceRevisions"):
        response = ecs.describe_service_revisions(serviceRevisionArns=[revision_arn])
    for raw in response.get("serviceRevisions", []):
        if raw.get("serviceRevisionArn") == revision_arn:
            return _revision(raw)
    failures: list[Any] = list(response.get("failures") or [])
    failure: Any = failures[0] if failures else {}
    raise NotFound(
        "ecs:DescribeServiceRevisions",
        str(failure.get("reason") or "MISSING"),
        f"no service revision {revision_arn}",
    )


def describe_service_revisions(ecs: ECSClient, arns: list[str]) -> dict[str, ServiceRevision]:
    """DescribeServiceRevisions over ``arns`` (at most 20 a call, ECS's limit): ARN ->
    revision for those ECS knows (its ``failures`` are left out)."""
    found: dict[str, ServiceRevision] = {}
    unique = list(dict.fromkeys(a for a in arns if a))
    for start in range(0, len(unique), DESCRIBE_REVISIONS_BATCH):
        with translate("ecs:DescribeServiceRevisions"):
            response = ecs.describe_service_revisions(
                serviceRevisionArns=unique[start : start + DESCRIBE_REVISIONS_BATCH]
            )
        for raw in response.get("serviceRevisions", []):
            if raw.get("serviceRevisionArn"):
                found[str(raw["serviceRevisionArn"])] = _revision(raw)
    return found


# -- task definitions ---------------------------------------------------------------------
def describe_task_definition(
    ecs: ECSClient, arn: str
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The task definition and its tags."""
    with translate("ecs:DescribeTaskDefinition"):
        response = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    task_definition: dict[str, Any] = dict(response["taskDefinition"])
    tags = [{"key": t["key"], "value": t["value"]} for t in response.get("tags", [])]
    return task_definition, tags


def register_task_definition(ecs: ECSClient, params: dict[str, Any]) -> dict[str, Any]:
    with translate("ecs:RegisterTaskDefinition"):
        response = ecs.register_task_definition(**params)
    attempts = response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
    return {
        "taskDefinitionArn": response["taskDefinition"]["taskDefinitionArn"],
        "attempts": attempts,
    }


def deregister_task_definition(ecs: ECSClient, params: dict[str, Any]) -> dict[str, Any]:
    with translate("ecs:DeregisterTaskDefinition"):
        ecs.deregister_task_definition(**params)
    return {}


# -- tasks, capacity, instances -----------------------------------------------------------
def running_tasks(ecs: ECSClient, cluster_arn: str, service_name: str) -> list[TaskInfo]:
    """The service's RUNNING tasks (desired and last status), with their zones."""
    arns: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "cluster": cluster_arn,
            "serviceName": service_name,
            "desiredStatus": "RUNNING",
        }
        if token:
            kwargs["nextToken"] = token
        with translate("ecs:ListTasks"):
            response = ecs.list_tasks(**kwargs)
        arns.extend(response.get("taskArns", []))
        token = response.get("nextToken")
        if not token:
            break
    group = f"service:{service_name}"
    tasks: list[TaskInfo] = []
    for start in range(0, len(arns), DESCRIBE_TASKS_BATCH):
        with translate("ecs:DescribeTasks"):
            described = ecs.describe_tasks(
                cluster=cluster_arn, tasks=arns[start : start + DESCRIBE_TASKS_BATCH]
            )
        tasks.extend(
            TaskInfo(
                arn=t["taskArn"],
                zone=t.get("availabilityZone"),
                task_definition=t.get("taskDefinitionArn", ""),
                container_instance=t.get("containerInstanceArn"),
            )
            for t in described.get("tasks", [])
            if t.get("group") == group
            and t.get("lastStatus") == "RUNNING"
            and t.get("desiredStatus") == "RUNNING"
        )
    return tasks


def describe_task(ecs: ECSClient, cluster_arn: str, task_arn: str) -> DescribedTask | None:
    """One task of the cluster as ECS knows it (one DescribeTasks), or None if ECS does not
    know it there (a ``MISSING`` failure: never run, another cluster's, or expired: ECS
    keeps a stopped task for about an hour). A task ARN of another cluster, account or
    region is not asked about: it is not the cluster's task."""
    prefix, _, cluster_name = cluster_arn.partition(":cluster/")
    task_prefix, _, path = task_arn.partition(":task/")
    if task_prefix != prefix or (path.count("/") == 1 and path.split("/")[0] != cluster_name):
        return None
    with translate("ecs:DescribeTasks"):
        response = ecs.describe_tasks(cluster=cluster_arn, tasks=[task_arn])
    for t in response.get("tasks", []):
        if t.get("taskArn") != task_arn or t.get("clusterArn", cluster_arn) != cluster_arn:
            continue
        stopped_at = t.get("stoppedAt")
        return DescribedTask(
            arn=task_arn,
            cluster_arn=cluster_arn,
            group=t.get("group", ""),
            task_definition=t.get("taskDefinitionArn", ""),
            last_status=t.get("lastStatus", ""),
            desired_status=t.get("desiredStatus", ""),
            stop_code=t.get("stopCode"),
            stopped_reason=t.get("stoppedReason"),
            stopped_at=stopped_at if isinstance(stopped_at, datetime) else None,
            containers=tuple(
                TaskContainerState(
                    name=c.get("name", ""),
                    exit_code=c.get("exitCode"),
                    image_digest=c.get("imageDigest"),
                )
                for c in t.get("containers", [])
            ),
        )
    return None


def cluster_capacity(ecs: ECSClient, cluster_arn: str) -> ClusterCapacity:
    """The cluster's capacity providers (their ASGs and managed scaling) and default strategy."""
    return clusters_capacity(ecs, [cluster_arn]).get(cluster_arn, ClusterCapacity((), ()))


def clusters_capacity(ecs: ECSClient, cluster_arns: Iterable[str]) -> dict[str, ClusterCapacity]:
    """Each cluster's capacity providers and default strategy: one DescribeClusters and one
    DescribeCapacityProviders for all of them (up to 100 clusters)."""
    arns = list(dict.fromkeys(cluster_arns))
    if not arns:
        return {}
    with translate("ecs:DescribeClusters"):
        response = ecs.describe_clusters(clusters=arns)
    raws = {r.get("clusterArn", ""): r for r in response.get("clusters", [])}
    names = sorted(
        {
            n
            for r in raws.values()
            for n in r.get("capacityProviders", [])
            if n not in FARGATE_PROVIDERS
        }
    )
    providers: dict[str, CapacityProviderInfo] = {}
    if names:
        with translate("ecs:DescribeCapacityProviders"):
            described = ecs.describe_capacity_providers(capacityProviders=names)
        for cp in described.get("capacityProviders", []):
            asg: Any = cp.get("autoScalingGroupProvider") or {}
            arn = asg.get("autoScalingGroupArn")
            providers[cp["name"]] = CapacityProviderInfo(
                name=cp["name"],
                asg_name=arn.split("autoScalingGroupName/", 1)[-1] if arn else None,
                managed_scaling=(asg.get("managedScaling") or {}).get("status") == "ENABLED",
            )
    return {
        arn: ClusterCapacity(
            tuple(providers[n] for n in raw.get("capacityProviders", []) if n in providers),
            _strategy(raw.get("defaultCapacityProviderStrategy") or []),
        )
        for arn, raw in raws.items()
    }


def container_instances(ecs: ECSClient, cluster_arn: str) -> list[ContainerInstanceInfo]:
    """The cluster's ACTIVE container instances, with zone and remaining CPU/memory."""
    arns: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"cluster": cluster_arn, "status": "ACTIVE"}
        if token:
            kwargs["nextToken"] = token
        with translate("ecs:ListContainerInstances"):
            response = ecs.list_container_instances(**kwargs)
        arns.extend(response.get("containerInstanceArns", []))
        token = response.get("nextToken")
        if not token:
            break
    out: list[ContainerInstanceInfo] = []
    for start in range(0, len(arns), DESCRIBE_INSTANCES_BATCH):
        with translate("ecs:DescribeContainerInstances"):
            described = ecs.describe_container_instances(
                cluster=cluster_arn,
                containerInstances=arns[start : start + DESCRIBE_INSTANCES_BATCH],
            )
        for ci in described.get("containerInstances", []):
            remaining = {r["name"]: r for r in ci.get("remainingResources", []) if "name" in r}
            zone = next(
                (
                    a.get("value")
                    for a in ci.get("attributes", [])
                    if a.get("name") == "ecs.availability-zone"
                ),
                None,
            )
            out.append(
                ContainerInstanceInfo(
                    arn=ci["containerInstanceArn"],
                    zone=zone,
                    remaining_cpu=int(remaining.get("CPU", {}).get("integerValue", 0)),
                    remaining_memory=int(remaining.get("MEMORY", {}).get("integerValue", 0)),
                    ec2_instance_id=ci.get("ec2InstanceId"),
                )
            )
    return out


# -- changes --------------------------------------------------------------------------------
def update_service(ecs: ECSClient, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateService; the answer as the flows read it (the new primary deployment, the fields
    the planned change set)."""
    with translate("ecs:UpdateService"):
        response = ecs.update_service(**params)
    service = response["service"]
    primary = [d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"]
    result: dict[str, Any] = {
        "taskDefinition": service.get("taskDefinition"),
        "deploymentId": primary[0].get("id") if primary else None,
        "primaryTaskDefinition": primary[0].get("taskDefinition") if primary else None,
    }
    for key in ("desiredCount", "availabilityZoneRebalancing", "capacityProviderStrategy"):
        if key in params:
            result[key] = service.get(key)
    return result


#: StopServiceDeployment's documented refusals (API reference, "Errors"): AWS answered and
#: nothing changed, e.g. the deployment completed meanwhile, or it has no previous revision
#: to go back to. AccessDeniedException and ServerException are failures, not refusals.
STOP_REFUSED = frozenset(
    {
        "ClientException",
        "ConflictException",
        "InvalidParameterException",
        "ServiceDeploymentNotFoundException",
        "UnsupportedFeatureException",
    }
)


def stop_service_deployment(ecs: ECSClient, params: dict[str, Any]) -> dict[str, Any]:
    """StopServiceDeployment(serviceDeploymentArn, stopType)."""
    with translate("ecs:StopServiceDeployment"):
        response = ecs.stop_service_deployment(**params)
    return {"serviceDeploymentArn": response.get("serviceDeploymentArn")}


def tag_resource(ecs: ECSClient, params: dict[str, Any]) -> dict[str, Any]:
    """TagResource(resourceArn, tags=[{key, value}])."""
    with translate("ecs:TagResource"):
        ecs.tag_resource(**params)
    return {}


def untag_resource(ecs: ECSClient, params: dict[str, Any]) -> dict[str, Any]:
    """UntagResource(resourceArn, tagKeys)."""
    with translate("ecs:UntagResource"):
        ecs.untag_resource(**params)
    return {}


def stop_task(ecs: ECSClient, params: dict[str, Any]) -> dict[str, Any]:
    """StopTask(cluster, task, reason)."""
    with translate("ecs:StopTask"):
        response = ecs.stop_task(**params)
    task = response.get("task", {})
    return {"taskArn": task.get("taskArn"), "desiredStatus": task.get("desiredStatus")}


def rebalancing_params(cluster_arn: str, service_arn: str) -> dict[str, Any]:
    """Turn on ECS's own AZ rebalancing (starts no deployment)."""
    return {
        "cluster": cluster_arn,
        "service": service_arn,
        "availabilityZoneRebalancing": "ENABLED",
    }


def strategy_params(strategy: Iterable[StrategyItem]) -> list[dict[str, Any]]:
    return [
        {"capacityProvider": i.capacity_provider, "weight": i.weight, "base": i.base}
        for i in strategy
    ]


def strategy_update_params(
    cluster_arn: str, service_arn: str, strategy: Iterable[StrategyItem]
) -> dict[str, Any]:
    return {
        "cluster": cluster_arn,
        "service": service_arn,
        "capacityProviderStrategy": strategy_params(strategy),
        "forceNewDeployment": STRATEGY_CHANGE_FORCES_DEPLOYMENT,
    }


def desired_count_params(cluster_arn: str, service_arn: str, desired: int) -> dict[str, Any]:
    return {"cluster": cluster_arn, "service": service_arn, "desiredCount": desired}


def stop_task_params(cluster_arn: str, task_arn: str, reason: str) -> dict[str, Any]:
    return {"cluster": cluster_arn, "task": task_arn, "reason": reason}


def stop_rollback_params(service_deployment_arn: str) -> dict[str, Any]:
    """Roll a service deployment back to the service's previous revision (ECS's own
    rollback; accepted whether or not the deployment was configured with rollback)."""
    return {"serviceDeploymentArn": service_deployment_arn, "stopType": "ROLLBACK"}


def task_definition_params(task_definition: str) -> dict[str, Any]:
    return {"taskDefinition": task_definition}
